package funcapp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// priceLoad is the price catalog a function app loads in the
// background: the approval webhook and the actuator never need it and
// should not wait for it on a cold start.
type priceLoad struct {
	once sync.Once
	done chan struct{} // closed when catalog and err are set
	set  sync.Once
	// catalog is the embedded catalog with the live prices the
	// collectors stored in the lake laid over it.
	catalog *pricing.Catalog
	err     error
}

// LoadPrices starts loading the price catalog, once; the loading
// outlives the invocation that started it.
func (a *App) LoadPrices() {
	a.priceLoad.once.Do(func() {
		a.priceLoad.done = make(chan struct{})
		go func() {
			defer close(a.priceLoad.done)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			base, err := pricing.Embedded()
			if err != nil {
				a.priceLoad.err = fmt.Errorf("load price catalog: %w", err)
				return
			}
			a.priceLoad.catalog, a.priceLoad.err = a.Pipe.LoadPrices(ctx, base)
		}()
	})
}

// WithPrices starts loading the price catalog if no one has, waits for
// it and gives it to the pipeline: for the functions that price things.
func (a *App) WithPrices(ctx context.Context) error {
	a.LoadPrices()
	select {
	case <-a.priceLoad.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if a.priceLoad.err != nil {
		return a.priceLoad.err
	}
	a.priceLoad.set.Do(func() { a.Pipe.Prices = a.priceLoad.catalog })
	return nil
}

// WaitPrices waits for a loading LoadPrices started to end, so that the
// lake may be closed.
func (a *App) WaitPrices() {
	a.priceLoad.once.Do(func() {}) // none starts after this
	if a.priceLoad.done != nil {
		<-a.priceLoad.done
	}
}
