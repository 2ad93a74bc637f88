// Package bench compares Kiln's tokenizer with github.com/sugarme/tokenizer
// on War and Peace. It is a separate module so that the comparison library
// never enters Kiln's go.mod or binary: run it with
//
//	cd tokenize/bench && go test -run XXX -bench . -benchtime 3x
package bench
