//go:build !goexperiment.simd || !amd64

package filters

// scanVector has no portable vector form: scan walks the bytes.
func (m *foldMatcher) scanVector(string) (uint8, bool) { return 0, false }
