//go:build cgo && linux

package cuda

/*
#include "kiln_cuda.h"
*/
import "C"

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Device is one CUDA GPU with Kiln's kernels loaded and a cuBLASLt handle.
// Its methods may be called from any goroutine, one at a time (the trainer
// drives a device from a single goroutine); every call re-binds the context
// to the calling OS thread.
type Device struct {
	l     *libs
	dev   C.CUdevice
	ctx   C.CUcontext
	mod   C.CUmodule
	lt    unsafe.Pointer
	funcs map[string]C.CUfunction

	mu    sync.Mutex
	plans map[gemmKey]*C.kiln_plan
	ws    Buf

	Info Info
}

// Info describes the opened device and libraries.
type Info struct {
	Name           string
	Major, Minor   int // compute capability
	SMs            int
	TotalMem       int64
	DriverVersion  int
	NVRTCVersion   string
	CublasLtVer    int
	Arch           string // what NVRTC compiled for, e.g. sm_90a
	LibPaths       [3]string
	KernelCache    string // cubin path, "" when not cached
	KernelCacheHit bool
}

// Options tunes Open.
type Options struct {
	Ordinal  int    // which GPU
	CacheDir string // cubin cache; default $XDG_CACHE_HOME/kiln/cuda
}

// Buf is a device allocation. Len counts bytes.
type Buf struct {
	Ptr uint64
	Len int
}

// Open loads the CUDA libraries, creates a context on GPU Ordinal, compiles
// (or loads from cache) Kiln's kernels for its architecture and creates the
// cuBLASLt handle. Without a driver the error wraps ErrNoDriver.
func Open(opt Options) (*Device, error) {
	l, err := loadLibs()
	if err != nil {
		return nil, err
	}
	d := &Device{l: l, funcs: map[string]C.CUfunction{}, plans: map[gemmKey]*C.kiln_plan{}}
	d.Info.LibPaths = l.paths
	if r := C.kiln_cu_init(l.cu, C.int(opt.Ordinal), &d.dev, &d.ctx); r != 0 {
		err := l.cuErr(r, fmt.Sprintf("cuInit/cuDeviceGet(%d)/cuDevicePrimaryCtxRetain", opt.Ordinal))
		if r == 100 || r == 101 || r == 999 || r == 3 { // NO_DEVICE, INVALID_DEVICE, UNKNOWN, NOT_INITIALIZED
			err = fmt.Errorf("%w: %w", ErrNoDriver, err)
		}
		return nil, err
	}
	if err := d.queryInfo(); err != nil {
		return nil, err
	}
	if err := d.loadKernels(opt.CacheDir); err != nil {
		d.Close()
		return nil, err
	}
	if r := C.kiln_lt_create(l.lt, d.ctx, l.cu, &d.lt); r != 0 {
		d.Close()
		return nil, ltErr(r, "cublasLtCreate")
	}
	// 32 MiB of workspace lets cuBLASLt pick split-K and stream-K kernels.
	if d.ws, err = d.Alloc(32 << 20); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) queryInfo() error {
	get := func(attr int) (int, error) {
		var v C.int
		if r := C.kiln_cu_attr(d.l.cu, d.dev, C.int(attr), &v); r != 0 {
			return 0, d.l.cuErr(r, fmt.Sprintf("cuDeviceGetAttribute(%d)", attr))
		}
		return int(v), nil
	}
	var err error
	if d.Info.Major, err = get(75); err != nil {
		return err
	}
	if d.Info.Minor, err = get(76); err != nil {
		return err
	}
	if d.Info.SMs, err = get(16); err != nil {
		return err
	}
	name := (*C.char)(C.calloc(256, 1))
	defer C.free(unsafe.Pointer(name))
	if r := C.kiln_cu_name(d.l.cu, d.dev, name, 255); r != 0 {
		return d.l.cuErr(r, "cuDeviceGetName")
	}
	d.Info.Name = C.GoString(name)
	var mem C.size_t
	if r := C.kiln_cu_totalmem(d.l.cu, d.dev, &mem); r != 0 {
		return d.l.cuErr(r, "cuDeviceTotalMem")
	}
	d.Info.TotalMem = int64(mem)
	var v C.int
	if r := C.kiln_cu_version(d.l.cu, &v); r == 0 {
		d.Info.DriverVersion = int(v)
	}
	var ma, mi C.int
	if r := C.kiln_nvrtc_version(d.l.nvrtc, &ma, &mi); r == 0 {
		d.Info.NVRTCVersion = fmt.Sprintf("%d.%d", int(ma), int(mi))
	}
	var lv C.size_t
	C.kiln_lt_version(d.l.lt, &lv)
	d.Info.CublasLtVer = int(lv)
	return nil
}

// Close frees the device's resources. The Device must not be used after.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, p := range d.plans {
		C.kiln_plan_free(d.l.lt, p)
		C.free(unsafe.Pointer(p))
		delete(d.plans, k)
	}
	if d.ws.Ptr != 0 {
		C.kiln_cu_free(d.l.cu, d.ctx, C.CUdeviceptr(d.ws.Ptr))
		d.ws = Buf{}
	}
	if d.lt != nil {
		C.kiln_lt_destroy(d.l.lt, d.lt)
		d.lt = nil
	}
	if d.mod != nil {
		C.kiln_cu_unload(d.l.cu, d.ctx, d.mod)
		d.mod = nil
	}
	if d.ctx != nil {
		C.kiln_cu_release(d.l.cu, d.dev)
		d.ctx = nil
	}
	return nil
}

// Sync waits for all queued work and reports any asynchronous kernel fault.
func (d *Device) Sync() error {
	return d.l.cuErr(C.kiln_cu_sync(d.l.cu, d.ctx), "cuCtxSynchronize")
}

// Alloc returns n bytes of device memory (plain cuMemAlloc, never managed).
func (d *Device) Alloc(n int) (Buf, error) {
	if n <= 0 {
		n = 4
	}
	var p C.CUdeviceptr
	if r := C.kiln_cu_alloc(d.l.cu, d.ctx, &p, C.size_t(n)); r != 0 {
		return Buf{}, d.l.cuErr(r, fmt.Sprintf("cuMemAlloc(%d bytes)", n))
	}
	return Buf{Ptr: uint64(p), Len: n}, nil
}

// Free releases b; a zero Buf is ignored.
func (d *Device) Free(b Buf) error {
	if b.Ptr == 0 {
		return nil
	}
	return d.l.cuErr(C.kiln_cu_free(d.l.cu, d.ctx, C.CUdeviceptr(b.Ptr)), "cuMemFree")
}

// Memset sets b's bytes to v.
func (d *Device) Memset(b Buf, v byte) error {
	return d.l.cuErr(C.kiln_cu_memset(d.l.cu, d.ctx, C.CUdeviceptr(b.Ptr), C.uchar(v), C.size_t(b.Len)), "cuMemsetD8")
}

// CopyDtoD copies n bytes.
func (d *Device) CopyDtoD(dst, src Buf, n int) error {
	if n > dst.Len || n > src.Len {
		return fmt.Errorf("cuda: copy of %d bytes into %d/from %d", n, dst.Len, src.Len)
	}
	return d.l.cuErr(C.kiln_cu_dtod(d.l.cu, d.ctx, C.CUdeviceptr(dst.Ptr), C.CUdeviceptr(src.Ptr), C.size_t(n)), "cuMemcpyDtoD")
}

func (d *Device) htod(dst Buf, src unsafe.Pointer, n int) error {
	if n > dst.Len {
		return fmt.Errorf("cuda: upload of %d bytes into a %d-byte buffer", n, dst.Len)
	}
	if n == 0 {
		return nil
	}
	return d.l.cuErr(C.kiln_cu_htod(d.l.cu, d.ctx, C.CUdeviceptr(dst.Ptr), src, C.size_t(n)), "cuMemcpyHtoD")
}

func (d *Device) dtoh(dst unsafe.Pointer, src Buf, n int) error {
	if n > src.Len {
		return fmt.Errorf("cuda: download of %d bytes from a %d-byte buffer", n, src.Len)
	}
	if n == 0 {
		return nil
	}
	return d.l.cuErr(C.kiln_cu_dtoh(d.l.cu, d.ctx, dst, C.CUdeviceptr(src.Ptr), C.size_t(n)), "cuMemcpyDtoH")
}

// Upload copies a host slice of float32, int32, uint16 or byte into dst.
func Upload[T float32 | int32 | uint16 | byte](d *Device, dst Buf, src []T) error {
	if len(src) == 0 {
		return nil
	}
	var z T
	err := d.htod(dst, unsafe.Pointer(&src[0]), len(src)*int(unsafe.Sizeof(z)))
	runtime.KeepAlive(src)
	return err
}

// Download copies from src into a host slice.
func Download[T float32 | int32 | uint16 | byte](d *Device, dst []T, src Buf) error {
	if len(dst) == 0 {
		return nil
	}
	var z T
	err := d.dtoh(unsafe.Pointer(&dst[0]), src, len(dst)*int(unsafe.Sizeof(z)))
	runtime.KeepAlive(dst)
	return err
}

// AllocFrom allocates a buffer and uploads src into it.
func AllocFrom[T float32 | int32 | uint16 | byte](d *Device, src []T) (Buf, error) {
	var z T
	b, err := d.Alloc(len(src) * int(unsafe.Sizeof(z)))
	if err != nil {
		return Buf{}, err
	}
	if err := Upload(d, b, src); err != nil {
		d.Free(b)
		return Buf{}, err
	}
	return b, nil
}

// arg is one kernel argument in its 8-byte launch slot.
type arg = uint64

func ptr(b Buf) arg        { return b.Ptr }
func i32(v int) arg        { return uint64(uint32(int32(v))) }
func i64(v int) arg        { return uint64(int64(v)) }
func f32(v float32) arg    { return uint64(*(*uint32)(unsafe.Pointer(&v))) }
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// launch runs kernel name on a grid of blocks of threads.
func (d *Device) launch(name string, grid, block [3]int, smem int, args ...arg) error {
	f, ok := d.funcs[name]
	if !ok {
		return fmt.Errorf("cuda: kernel %s not in the module", name)
	}
	if grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0 {
		return nil // empty problem
	}
	var a *C.uint64_t
	if len(args) > 0 {
		a = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	r := C.kiln_cu_launch(d.l.cu, d.ctx, f, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(smem), C.int(len(args)), a)
	runtime.KeepAlive(args)
	return d.l.cuErr(r, "cuLaunchKernel "+name)
}

// Event pairs time device work with CUDA events.
type Event struct{ e C.CUevent }

// Record records a new event on the default stream.
func (d *Device) Record() (Event, error) {
	var e C.CUevent
	if r := C.kiln_cu_event_create(d.l.cu, d.ctx, &e); r != 0 {
		return Event{}, d.l.cuErr(r, "cuEventCreate")
	}
	if r := C.kiln_cu_event_record(d.l.cu, d.ctx, e); r != 0 {
		return Event{}, d.l.cuErr(r, "cuEventRecord")
	}
	return Event{e}, nil
}

// Elapsed waits for b and returns milliseconds from a to b, destroying both.
func (d *Device) Elapsed(a, b Event) (float64, error) {
	var ms C.float
	r := C.kiln_cu_event_elapsed(d.l.cu, d.ctx, a.e, b.e, &ms)
	C.kiln_cu_event_destroy(d.l.cu, d.ctx, a.e)
	C.kiln_cu_event_destroy(d.l.cu, d.ctx, b.e)
	return float64(ms), d.l.cuErr(r, "cuEventElapsedTime")
}

// loadKernels compiles the embedded sources with NVRTC for this device's
// architecture, or loads the cubin cached under the hash of source, options
// and NVRTC version, then resolves every kernel.
func (d *Device) loadKernels(cacheDir string) error {
	arch := fmt.Sprintf("sm_%d%d", d.Info.Major, d.Info.Minor)
	if d.Info.Major == 9 && d.Info.Minor == 0 {
		arch = "sm_90a" // Hopper's arch-specific target (wgmma, setmaxnreg)
	}
	d.Info.Arch = arch
	// No --use_fast_math: exp/log accuracy matters for the softmax and
	// cross-entropy parity against the CPU backend.
	opts := []string{"--gpu-architecture=" + arch, "-std=c++17", "-default-device"}
	src := kernelSource
	h := sha256.New()
	h.Write([]byte(src))
	h.Write([]byte(strings.Join(opts, " ")))
	h.Write([]byte(d.Info.NVRTCVersion))
	key := hex.EncodeToString(h.Sum(nil))[:24]
	if cacheDir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			cacheDir = filepath.Join(base, "kiln", "cuda")
		}
	}
	var cubin []byte
	var path string
	if cacheDir != "" {
		path = filepath.Join(cacheDir, key+"."+arch+".cubin")
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			cubin = b
			d.Info.KernelCacheHit = true
		}
	}
	if cubin == nil {
		var err error
		cubin, err = d.compile(src, opts)
		if err != nil {
			return err
		}
		if path != "" {
			// Write then rename so a concurrent process never reads half a file.
			if err := os.MkdirAll(cacheDir, 0o755); err == nil {
				tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
				if os.WriteFile(tmp, cubin, 0o644) == nil {
					os.Rename(tmp, path)
				}
			}
		}
	}
	d.Info.KernelCache = path
	img := C.CBytes(cubin)
	defer C.free(img)
	if r := C.kiln_cu_load(d.l.cu, d.ctx, &d.mod, img); r != 0 {
		return d.l.cuErr(r, "cuModuleLoadData (kernels for "+arch+")")
	}
	for _, name := range kernelNames {
		cs := C.CString(name)
		var f C.CUfunction
		r := C.kiln_cu_func(d.l.cu, d.ctx, &f, d.mod, cs)
		C.free(unsafe.Pointer(cs))
		if r != 0 {
			return d.l.cuErr(r, "cuModuleGetFunction "+name)
		}
		d.funcs[name] = f
	}
	for name, bytes := range kernelDynSmem {
		if r := C.kiln_cu_func_smem(d.l.cu, d.funcs[name], C.int(bytes)); r != 0 {
			return d.l.cuErr(r, "cuFuncSetAttribute "+name)
		}
	}
	return nil
}

// compile runs NVRTC on src.
func (d *Device) compile(src string, opts []string) ([]byte, error) {
	csrc := C.CString(src)
	defer C.free(unsafe.Pointer(csrc))
	cname := C.CString("kiln_kernels.cu")
	defer C.free(unsafe.Pointer(cname))
	copts := (**C.char)(C.calloc(C.size_t(len(opts)+1), C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(copts))
	cs := unsafe.Slice(copts, len(opts))
	for i, o := range opts {
		cs[i] = C.CString(o)
	}
	defer func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}()
	var cubin, log *C.char
	var n C.size_t
	var stage C.int
	r := C.kiln_nvrtc_compile(d.l.nvrtc, csrc, cname, C.int(len(opts)), copts, &cubin, &n, &log, &stage)
	var logs string
	if log != nil {
		logs = C.GoString(log)
		C.free(unsafe.Pointer(log))
	}
	if r != 0 {
		if cubin != nil {
			C.free(unsafe.Pointer(cubin))
		}
		steps := []string{"nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetCUBIN"}
		return nil, fmt.Errorf("NVRTC %s (%s): %s\n%s", steps[int(stage)], strings.Join(opts, " "),
			C.GoString(C.kiln_nvrtc_errstr(d.l.nvrtc, r)), logs)
	}
	out := C.GoBytes(unsafe.Pointer(cubin), C.int(n))
	C.free(unsafe.Pointer(cubin))
	if len(out) == 0 {
		return nil, errors.New("NVRTC returned an empty cubin")
	}
	return out, nil
}
