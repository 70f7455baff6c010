// Package archtest holds tests about the shape of the code base: which
// packages may depend on which, and that every package is documented.
// It has no code of its own.
package archtest
