package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

func TestStoredPricesReplaceTheEmbeddedOnes(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Lake: l, Now: func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) }}
	got, err := p.LoadPrices(ctx, base)
	if err != nil || got != base {
		t.Fatalf("no stored prices: %v, %v; want the base catalog", got, err)
	}
	old, ok := base.Lookup(domain.AWS, "us-east-1", domain.KindVM, "m5.large")
	if !ok {
		t.Fatal("the embedded catalog has no m5.large in us-east-1")
	}
	live := old
	live.Amount = domain.Money{Micros: old.Amount.Micros + 1000, Currency: old.Amount.Currency}
	if err := p.StorePrices(ctx, domain.AWS, []domain.Price{live}); err != nil {
		t.Fatal(err)
	}
	got, err = p.LoadPrices(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if pr, _ := got.Lookup(domain.AWS, "us-east-1", domain.KindVM, "m5.large"); pr.Amount != live.Amount {
		t.Fatalf("m5.large = %v; want the stored %v", pr.Amount, live.Amount)
	}
	if _, ok := got.Lookup(domain.Azure, "eastus", domain.KindVM, "Standard_D2s_v5"); !ok {
		t.Fatal("other clouds' embedded prices were lost")
	}
	if err := p.StorePrices(ctx, domain.GCP, []domain.Price{live}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("storing AWS prices as GCP's: err = %v; want invalid", err)
	}
	if err := l.Put(ctx, pipeline.PricesKey(domain.AWS), []byte(`{"version":"cloudtrim.prices/v9","cloud":"aws"}`), false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadPrices(ctx, base); !errors.Is(err, domain.ErrUnsupported) {
		t.Fatalf("unknown version: err = %v; want unsupported", err)
	}
}
