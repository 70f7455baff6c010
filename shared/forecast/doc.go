// Package forecast turns FOCUS cost rows into daily spend series,
// forecasts the largest of them and finds cost anomalies.
//
// A Builder takes rows one at a time (Add, cheap enough for millions of
// rows) and keeps exact daily sums in micro-units at three levels: per
// cloud, per (cloud, account) and per (cloud, account, service), each
// per billing currency; amounts in different currencies are never added.
// Its memory is bounded by the number of series times the days kept
// (Options.HistoryDays), not by the number of rows. For the last
// Options.ContributorDays days of each account×service it also keeps the
// amount per contributor (resource, else SKU or charge description),
// bounded to a few times Options.MaxContributors entries per key and day.
//
// Analyze(asOf) forecasts the spend of every cloud, of the top accounts
// and of the top account×service series over the configured horizons,
// with 80% and 95% prediction intervals and a rolling-origin backtest,
// and lists daily spikes and new services in the last days before asOf.
//
// The package uses the standard library only and reads no clock: the
// caller passes asOf.
package forecast
