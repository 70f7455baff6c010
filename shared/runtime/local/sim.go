package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// EstateConfig chooses the simulated estate when the lake has none yet.
// The zero value is the committed demo estate.
type EstateConfig struct {
	Seed      int64
	Resources int
}

const (
	estateKey      = "sim/estate.json"
	journalPrefix  = "sim/journal/"
	estateVersion  = "cloudtrim.sim-estate/v1"
	journalVersion = "cloudtrim.sim-journal/v1"
)

// estateDoc is the estate's configuration as kept in the lake.
type estateDoc struct {
	Version string          `json:"version"`
	Config  simcloud.Config `json:"config"`
}

// change is one successful mutating call, replayed to rebuild the
// estate in a later process.
type change struct {
	Cloud domain.Cloud       `json:"cloud"`
	Op    string             `json:"op"`
	Ref   domain.ResourceRef `json:"ref"`
	Token string             `json:"token"`
	SKU   string             `json:"sku,omitempty"`
	Tags  map[string]string  `json:"tags,omitempty"`
	// Tiering is the lifecycle rule of a "tier" change ("" removes it).
	Tiering string `json:"tiering,omitempty"`
}

type journalDoc struct {
	Version string   `json:"version"`
	Changes []change `json:"changes"`
}

// Sim is the simulated estate of a local runtime, kept in the lake: its
// configuration under sim/estate.json and every change the actuator made
// under sim/journal/, replayed when another process opens it.
type Sim struct {
	Estate *simcloud.Estate
	lake   *lake.Lake
	cfg    simcloud.Config

	mu      sync.Mutex
	pending []change
	seq     int
}

// Info describes the estate.
func (s *Sim) Info() simcloud.Config { return s.cfg }

// OpenSim loads the estate kept in l, or creates it from est.
func OpenSim(ctx context.Context, l *lake.Lake, prices simcloud.Prices, est EstateConfig, now func() time.Time) (*Sim, error) {
	doc, err := loadEstate(ctx, l)
	if errors.Is(err, domain.ErrNotFound) {
		cfg := simcloud.Demo(now().UTC().Truncate(time.Hour))
		if est.Resources > 0 {
			cfg.Resources = est.Resources
			cfg.Seed = est.Seed
		}
		doc = estateDoc{Version: estateVersion, Config: cfg}
		b, _ := json.MarshalIndent(doc, "", "  ")
		if err := l.Put(ctx, estateKey, b, true); err != nil && !errors.Is(err, domain.ErrConflict) {
			return nil, fmt.Errorf("record simulated estate: %w", err)
		}
		doc, err = loadEstate(ctx, l)
	}
	if err != nil {
		return nil, err
	}
	estate, err := simcloud.New(doc.Config, prices)
	if err != nil {
		return nil, fmt.Errorf("simulated estate: %w", err)
	}
	s := &Sim{Estate: estate, lake: l, cfg: doc.Config}
	if err := s.replay(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func loadEstate(ctx context.Context, l *lake.Lake) (estateDoc, error) {
	b, err := l.Get(ctx, estateKey)
	if err != nil {
		return estateDoc{}, err
	}
	var doc estateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("%w: %s: %v", domain.ErrInvalid, estateKey, err)
	}
	if doc.Version != estateVersion {
		return doc, fmt.Errorf("%w: %s: version %q (want %q)", domain.ErrUnsupported, estateKey, doc.Version, estateVersion)
	}
	return doc, nil
}

func (s *Sim) replay(ctx context.Context) error {
	keys, err := s.lake.List(ctx, journalPrefix)
	if err != nil {
		return fmt.Errorf("read simulated estate journal: %w", err)
	}
	for _, k := range keys {
		b, err := s.lake.Get(ctx, k)
		if err != nil {
			return fmt.Errorf("read %s: %w", k, err)
		}
		var doc journalDoc
		if err := json.Unmarshal(b, &doc); err != nil || doc.Version != journalVersion {
			return fmt.Errorf("%w: journal entry %s is not a %s document", domain.ErrInvalid, k, journalVersion)
		}
		for _, c := range doc.Changes {
			if err := apply(ctx, s.Estate.Cloud(c.Cloud), c); err != nil {
				return fmt.Errorf("replay %s %s from %s: %w", c.Op, c.Ref, k, err)
			}
		}
		s.seq++
	}
	return nil
}

func apply(ctx context.Context, c *simcloud.Cloud, ch change) error {
	switch ch.Op {
	case "stop":
		return c.Stop(ctx, ch.Ref, ch.Token)
	case "start":
		return c.Start(ctx, ch.Ref, ch.Token)
	case "resize":
		return c.Resize(ctx, ch.Ref, ch.SKU, ch.Token)
	case "retype":
		return c.Retype(ctx, ch.Ref, ch.SKU, ch.Token)
	case "tier":
		var rule domain.TierRule
		if ch.Tiering != "" {
			r, err := domain.ParseTierRule(ch.Tiering)
			if err != nil {
				return err
			}
			rule = r
		}
		return c.SetTiering(ctx, ch.Ref, rule, ch.Token)
	case "snapshot":
		_, err := c.Snapshot(ctx, ch.Ref, ch.Tags, ch.Token)
		return err
	case "delete":
		return c.Delete(ctx, ch.Ref, ch.Token)
	case "release":
		return c.Release(ctx, ch.Ref, ch.Token)
	case "tag":
		return c.Tag(ctx, ch.Ref, ch.Tags, ch.Token)
	}
	return fmt.Errorf("%w: unknown operation %q", domain.ErrInvalid, ch.Op)
}

// Persist appends the changes made since the last Persist to the
// journal in the lake.
func (s *Sim) Persist(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	b, err := json.Marshal(journalDoc{Version: journalVersion, Changes: s.pending})
	if err != nil {
		return err
	}
	for {
		key := fmt.Sprintf("%s%010d.json", journalPrefix, s.seq+1)
		err := s.lake.Put(ctx, key, b, true)
		if errors.Is(err, domain.ErrConflict) {
			s.seq++ // another process wrote that entry; ours goes after it
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		s.seq++
		s.pending = nil
		return nil
	}
}

// Resources returns the estate's cloud as the actuator sees it: every
// successful change is journaled for Persist.
func (s *Sim) Resources(c domain.Cloud) actuate.Resources {
	return &journaled{c: s.Estate.Cloud(c), sim: s}
}

type journaled struct {
	c   *simcloud.Cloud
	sim *Sim
}

func (j *journaled) Cloud() domain.Cloud { return j.c.Cloud() }

func (j *journaled) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	return j.c.Get(ctx, ref)
}

func (j *journaled) record(err error, ch change) error {
	if err == nil {
		ch.Cloud = j.c.Cloud()
		j.sim.mu.Lock()
		j.sim.pending = append(j.sim.pending, ch)
		j.sim.mu.Unlock()
	}
	return err
}

func (j *journaled) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	return j.record(j.c.Stop(ctx, ref, token), change{Op: "stop", Ref: ref, Token: token})
}

func (j *journaled) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	return j.record(j.c.Start(ctx, ref, token), change{Op: "start", Ref: ref, Token: token})
}

func (j *journaled) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	return j.record(j.c.Resize(ctx, ref, sku, token), change{Op: "resize", Ref: ref, Token: token, SKU: sku})
}

func (j *journaled) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	return j.record(j.c.Retype(ctx, ref, sku, token), change{Op: "retype", Ref: ref, Token: token, SKU: sku})
}

func (j *journaled) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	ch := change{Op: "tier", Ref: ref, Token: token}
	if !rule.IsZero() {
		ch.Tiering = rule.String()
	}
	return j.record(j.c.SetTiering(ctx, ref, rule, token), ch)
}

func (j *journaled) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	id, err := j.c.Snapshot(ctx, ref, tags, token)
	return id, j.record(err, change{Op: "snapshot", Ref: ref, Token: token, Tags: tags})
}

func (j *journaled) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	return j.record(j.c.Delete(ctx, ref, token), change{Op: "delete", Ref: ref, Token: token})
}

func (j *journaled) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	return j.record(j.c.Release(ctx, ref, token), change{Op: "release", Ref: ref, Token: token})
}

func (j *journaled) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	return j.record(j.c.Tag(ctx, ref, tags, token), change{Op: "tag", Ref: ref, Token: token, Tags: tags})
}
