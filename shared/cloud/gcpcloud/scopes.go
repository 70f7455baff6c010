package gcpcloud

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// pageIterator is what the SDK's listing iterators have in common.
type pageIterator[T any] interface {
	Next() (T, error)
	PageInfo() *iterator.PageInfo
}

// listAll calls each with every item of a listing, each page a call of
// its own under Config.CallTimeout (open makes the iterator of the page
// of token, "" for the first); op names the listing in errors. A page
// token the API repeats is an error, not an endless loop.
func listAll[T any](ctx context.Context, p *Provider, op string, open func(ctx context.Context, token string) pageIterator[T], each func(T)) error {
	seen := map[string]bool{}
	token := ""
	for {
		callCtx, cancel := p.call(ctx)
		next, err := onePage(open(callCtx, token), each)
		cancel()
		switch {
		case err != nil:
			return mapErr(op, err)
		case next == "":
			return nil
		case seen[next]:
			return fmt.Errorf("%s: the API repeated the page token %q", op, next)
		}
		seen[next] = true
		token = next
	}
}

// Projects returns the projects the provider reads, sorted: the
// configured ones, or every ACTIVE project Resource Manager's
// projects.search returns to the identity (the projects it has
// resourcemanager.projects.get on). An error means the projects could
// not be searched.
func (p *Provider) Projects(ctx context.Context) ([]string, error) {
	if len(p.cfg.Projects) > 0 {
		ps := slices.Clone(p.cfg.Projects)
		slices.Sort(ps)
		return slices.Compact(ps), nil
	}
	c, err := p.projectsClient(ctx)
	if err != nil {
		return nil, err
	}
	var ps []string
	err = listAll(ctx, p, "gcpcloud: search the active projects", func(ctx context.Context, token string) pageIterator[*resourcemanagerpb.Project] {
		return c.SearchProjects(ctx, &resourcemanagerpb.SearchProjectsRequest{Query: "state:ACTIVE", PageToken: token,
			PageSize: int32(p.cfg.PageSize)}, p.retry())
	}, func(pr *resourcemanagerpb.Project) {
		if pr.GetProjectId() != "" && pr.GetState() == resourcemanagerpb.Project_ACTIVE {
			ps = append(ps, pr.GetProjectId())
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ps)
	return slices.Compact(ps), nil
}

// Scopes implements collect.Inventory with one scope per project and
// region that holds an instance, disk, static external address or
// snapshot ("global" for a global address), found by one listing pass
// over each project: Compute Engine's aggregated lists cover a whole
// project, and the region is the unit Cloud Monitoring is queried in
// and the unit the actuator's coverage check names. The pass of the
// first project is kept for Resources (see there), which the collector
// calls in project order.
//
// A project whose resources cannot be listed (403, throttled past the
// retries, Compute Engine not enabled) gets one scope with an empty
// region, and Resources of that scope returns the error: the manifest
// records the project as failed, which blocks changes to all of it. A
// project that can be read but holds nothing also gets a scope with an
// empty region, read as empty. An error means the projects themselves
// could not be listed, or ctx ended.
func (p *Provider) Scopes(ctx context.Context) ([]collect.Scope, error) {
	projects, err := p.Projects(ctx)
	if err != nil {
		return nil, err
	}
	// The projects are listed last to first, so that the listing kept at
	// the end is the first project's, which the collector reads first.
	perProject := make([][]collect.Scope, len(projects))
	errs := map[string]error{}
	for i, project := range slices.Backward(projects) {
		l := p.listProject(ctx, project)
		if l.err != nil && ctx.Err() != nil {
			return nil, l.err
		}
		regions := l.regions()
		for _, r := range regions {
			perProject[i] = append(perProject[i], collect.Scope{Account: project, Region: r})
		}
		errs[project] = l.err
		if l.err != nil {
			p.logger.WarnContext(ctx, "project not readable", "cloud", domain.GCP, "account_id", project, "error", l.err)
		}
		if l.err != nil || len(regions) == 0 {
			perProject[i] = append(perProject[i], collect.Scope{Account: project})
		}
	}
	scopes := slices.Concat(perProject...)
	p.mu.Lock()
	p.scopeErr = errs
	p.mu.Unlock()
	return scopes, nil
}

// projectError returns why Scopes could not list a project, or lists it
// again when Scopes has not (nil when it can be read).
func (p *Provider) projectError(ctx context.Context, project string) error {
	p.mu.Lock()
	err, ok := p.scopeErr[project]
	p.mu.Unlock()
	if ok {
		return err
	}
	return p.listProject(ctx, project).err
}
