// Package focus reads billing exports (FOCUS 1.0 to 1.2, the AWS Cost
// and Usage Report in its legacy and 2.0 forms, Azure EA and MCA cost
// exports, the Google Cloud billing export) and turns every row into a
// FOCUS 1.2 domain.CostRow.
//
// Reading is streaming: a source is opened once, decompressed when it is
// gzip, split into records (CSV with any common delimiter, JSON lines, or
// Parquet row groups), and each record is mapped by the Mapper of the
// format its header was detected as. Memory is bounded by the batch
// size, never by the size of the file.
//
// Every mapped row is checked against the FOCUS rules this package
// enforces (see the Rule constants). A row that breaks one is rejected:
// it is counted per rule, kept as an example, and its amounts are
// reported, never silently dropped or silently kept. A source that
// cannot be read at all (broken quote, truncated gzip, a Parquet schema
// no format matches) fails with an error naming the file, the line or
// row group and the column.
//
// The package knows no lake and no cloud SDK; callers decide where rows
// go.
package focus
