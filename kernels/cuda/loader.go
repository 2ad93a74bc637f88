//go:build cgo && linux

package cuda

/*
#cgo LDFLAGS: -ldl
#include "kiln_cuda.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

// libs holds the three dynamically loaded CUDA libraries. Each Device owns
// its own; dlopen reference-counts, so several Devices share the mapping.
type libs struct {
	cu    *C.kiln_cu
	nvrtc *C.kiln_nvrtc
	lt    *C.kiln_lt
	paths [3]string
}

// libCandidates lists, for one library, the sonames to try with the
// system's search path, then the same sonames in the usual install folders
// (CUDA toolkits, Python wheels of nvidia-*), so a machine with PyTorch but
// no system toolkit still works. KILN_CUDA_LIB_DIR comes first.
func libCandidates(sonames []string) []string {
	var dirs []string
	if d := os.Getenv("KILN_CUDA_LIB_DIR"); d != "" {
		dirs = append(dirs, filepath.SplitList(d)...)
	}
	var out []string
	for _, d := range dirs {
		for _, s := range sonames {
			out = append(out, filepath.Join(d, s))
		}
	}
	out = append(out, sonames...)
	var globbed []string
	if h := os.Getenv("CUDA_HOME"); h != "" {
		globbed = append(globbed, filepath.Join(h, "lib64"))
	}
	for _, pat := range []string{
		"/usr/local/cuda/lib64", "/usr/local/cuda-*/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/usr/lib/python3*/site-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/*/lib",
	} {
		m, _ := filepath.Glob(pat)
		globbed = append(globbed, m...)
	}
	for _, d := range globbed {
		for _, s := range sonames {
			p := filepath.Join(d, s)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// dlopenFirst opens the first candidate that loads and returns its handle
// and name, or an error listing every attempt.
func dlopenFirst(what string, sonames []string) (unsafe.Pointer, string, error) {
	var tried []string
	buf := (*C.char)(C.calloc(512, 1))
	defer C.free(unsafe.Pointer(buf))
	for _, name := range libCandidates(sonames) {
		cs := C.CString(name)
		h := C.kiln_dlopen(cs, buf, 512)
		C.free(unsafe.Pointer(cs))
		if h != nil {
			return h, name, nil
		}
		tried = append(tried, C.GoString(buf))
	}
	return nil, "", fmt.Errorf("%s not found: %s", what, strings.Join(dedup(tried), "; "))
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// ErrNoDriver wraps every failure to load the CUDA driver library, so
// callers (tests, the trainer's --device flag) can tell "no GPU here" from a
// real fault.
var ErrNoDriver = errors.New("CUDA driver unavailable")

func loadLibs() (*libs, error) {
	l := &libs{}
	missing := (*C.char)(C.calloc(256, 1))
	defer C.free(unsafe.Pointer(missing))

	h, p, err := dlopenFirst("CUDA driver libcuda.so.1", []string{"libcuda.so.1", "libcuda.so"})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDriver, err)
	}
	l.cu = (*C.kiln_cu)(C.calloc(1, C.size_t(unsafe.Sizeof(C.kiln_cu{}))))
	l.cu.h = h
	l.paths[0] = p
	C.kiln_cu_bind(l.cu, missing, 256)
	if C.GoString(missing) != "" {
		return nil, fmt.Errorf("%w: %s lacks symbol %s (driver too old?)", ErrNoDriver, p, C.GoString(missing))
	}

	h, p, err = dlopenFirst("NVRTC libnvrtc.so", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"})
	if err != nil {
		return nil, err
	}
	l.nvrtc = (*C.kiln_nvrtc)(C.calloc(1, C.size_t(unsafe.Sizeof(C.kiln_nvrtc{}))))
	l.nvrtc.h = h
	l.paths[1] = p
	C.kiln_nvrtc_bind(l.nvrtc, missing, 256)
	if C.GoString(missing) != "" {
		return nil, fmt.Errorf("%s lacks symbol %s", p, C.GoString(missing))
	}

	h, p, err = dlopenFirst("cuBLASLt libcublasLt.so", []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
	if err != nil {
		return nil, err
	}
	l.lt = (*C.kiln_lt)(C.calloc(1, C.size_t(unsafe.Sizeof(C.kiln_lt{}))))
	l.lt.h = h
	l.paths[2] = p
	C.kiln_lt_bind(l.lt, missing, 256)
	if C.GoString(missing) != "" {
		return nil, fmt.Errorf("%s lacks symbol %s", p, C.GoString(missing))
	}
	return l, nil
}

// cuErr turns a CUresult into an error naming the call.
func (l *libs) cuErr(r C.CUresult, call string) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: CUDA error %d (%s)", call, int(r), C.GoString(C.kiln_cu_errstr(l.cu, r)))
}

func ltErr(r C.cublasStatus_t, call string) error {
	if r == 0 {
		return nil
	}
	names := map[int]string{1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH",
		11: "MAPPING_ERROR", 13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR"}
	return fmt.Errorf("%s: cuBLAS status %d (%s)", call, int(r), names[int(r)])
}
