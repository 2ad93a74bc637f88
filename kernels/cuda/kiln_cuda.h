// kiln_cuda.h declares the CUDA driver, NVRTC and cuBLASLt entry points
// Kiln loads with dlopen, and small C helpers around them. Only cgo builds
// include it.
#ifndef KILN_CUDA_H
#define KILN_CUDA_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Kiln declares the handful of CUDA types and entry points it uses itself,
// with their documented values, so that building needs no CUDA headers.
typedef int CUresult;
typedef int CUdevice;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef void* CUevent;
typedef unsigned long long CUdeviceptr;

typedef struct {
	void* h;
	CUresult (*cuInit)(unsigned int);
	CUresult (*cuDriverGetVersion)(int*);
	CUresult (*cuDeviceGetCount)(int*);
	CUresult (*cuDeviceGet)(CUdevice*, int);
	CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
	CUresult (*cuDeviceGetName)(char*, int, CUdevice);
	CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
	CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
	CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
	CUresult (*cuCtxSetCurrent)(CUcontext);
	CUresult (*cuCtxSynchronize)(void);
	CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
	CUresult (*cuMemFree)(CUdeviceptr);
	CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t);
	CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
	CUresult (*cuMemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
	CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
	CUresult (*cuModuleLoadData)(CUmodule*, const void*);
	CUresult (*cuModuleUnload)(CUmodule);
	CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
	CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
	CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);
	CUresult (*cuEventCreate)(CUevent*, unsigned);
	CUresult (*cuEventRecord)(CUevent, CUstream);
	CUresult (*cuEventSynchronize)(CUevent);
	CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
	CUresult (*cuEventDestroy)(CUevent);
	CUresult (*cuGetErrorString)(CUresult, const char**);
} kiln_cu;

typedef int nvrtcResult;
typedef void* nvrtcProgram;
typedef struct {
	void* h;
	nvrtcResult (*nvrtcVersion)(int*, int*);
	nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
	nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
	nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
	nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
	nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
	nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
	nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
	const char* (*nvrtcGetErrorString)(nvrtcResult);
} kiln_nvrtc;

typedef int cublasStatus_t;
typedef struct { uint64_t data[8]; } kiln_lt_algo;
typedef struct {
	kiln_lt_algo algo;
	size_t workspaceSize;
	cublasStatus_t state;
	float wavesCount;
	int reserved[4];
} kiln_lt_heur;

typedef struct {
	void* h;
	size_t (*cublasLtGetVersion)(void);
	cublasStatus_t (*cublasLtCreate)(void**);
	cublasStatus_t (*cublasLtDestroy)(void*);
	cublasStatus_t (*cublasLtMatmulDescCreate)(void**, int, int);
	cublasStatus_t (*cublasLtMatmulDescDestroy)(void*);
	cublasStatus_t (*cublasLtMatmulDescSetAttribute)(void*, int, const void*, size_t);
	cublasStatus_t (*cublasLtMatrixLayoutCreate)(void**, int, uint64_t, uint64_t, int64_t);
	cublasStatus_t (*cublasLtMatrixLayoutDestroy)(void*);
	cublasStatus_t (*cublasLtMatmulPreferenceCreate)(void**);
	cublasStatus_t (*cublasLtMatmulPreferenceDestroy)(void*);
	cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute)(void*, int, const void*, size_t);
	cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic)(void*, void*, void*, void*, void*, void*, void*, int, kiln_lt_heur*, int*);
	cublasStatus_t (*cublasLtMatmul)(void*, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*, void*, void*, const kiln_lt_algo*, void*, size_t, CUstream);
} kiln_lt;

static void* kiln_sym(void* h, const char* name, char* missing, size_t cap) {
	void* p = dlsym(h, name);
	if (!p && missing[0] == 0) strncpy(missing, name, cap - 1);
	return p;
}

// kiln_dlopen returns a handle or NULL; on NULL, err holds dlerror().
static void* kiln_dlopen(const char* name, char* err, size_t cap) {
	void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char* e = dlerror();
		strncpy(err, e ? e : "unknown dlopen error", cap - 1);
		err[cap - 1] = 0;
	}
	return h;
}

#define SYM(s, field, name) s->field = (void*)kiln_sym(s->h, name, missing, cap)

static void kiln_cu_bind(kiln_cu* s, char* missing, size_t cap) {
	SYM(s, cuInit, "cuInit");
	SYM(s, cuDriverGetVersion, "cuDriverGetVersion");
	SYM(s, cuDeviceGetCount, "cuDeviceGetCount");
	SYM(s, cuDeviceGet, "cuDeviceGet");
	SYM(s, cuDeviceGetAttribute, "cuDeviceGetAttribute");
	SYM(s, cuDeviceGetName, "cuDeviceGetName");
	SYM(s, cuDeviceTotalMem, "cuDeviceTotalMem_v2");
	SYM(s, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
	SYM(s, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
	SYM(s, cuCtxSetCurrent, "cuCtxSetCurrent");
	SYM(s, cuCtxSynchronize, "cuCtxSynchronize");
	SYM(s, cuMemAlloc, "cuMemAlloc_v2");
	SYM(s, cuMemFree, "cuMemFree_v2");
	SYM(s, cuMemcpyHtoD, "cuMemcpyHtoD_v2");
	SYM(s, cuMemcpyDtoH, "cuMemcpyDtoH_v2");
	SYM(s, cuMemcpyDtoD, "cuMemcpyDtoD_v2");
	SYM(s, cuMemsetD8, "cuMemsetD8_v2");
	SYM(s, cuModuleLoadData, "cuModuleLoadData");
	SYM(s, cuModuleUnload, "cuModuleUnload");
	SYM(s, cuModuleGetFunction, "cuModuleGetFunction");
	SYM(s, cuFuncSetAttribute, "cuFuncSetAttribute");
	SYM(s, cuLaunchKernel, "cuLaunchKernel");
	SYM(s, cuEventCreate, "cuEventCreate");
	SYM(s, cuEventRecord, "cuEventRecord");
	SYM(s, cuEventSynchronize, "cuEventSynchronize");
	SYM(s, cuEventElapsedTime, "cuEventElapsedTime");
	SYM(s, cuEventDestroy, "cuEventDestroy_v2");
	SYM(s, cuGetErrorString, "cuGetErrorString");
}

static void kiln_nvrtc_bind(kiln_nvrtc* s, char* missing, size_t cap) {
	SYM(s, nvrtcVersion, "nvrtcVersion");
	SYM(s, nvrtcCreateProgram, "nvrtcCreateProgram");
	SYM(s, nvrtcCompileProgram, "nvrtcCompileProgram");
	SYM(s, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize");
	SYM(s, nvrtcGetProgramLog, "nvrtcGetProgramLog");
	SYM(s, nvrtcGetCUBINSize, "nvrtcGetCUBINSize");
	SYM(s, nvrtcGetCUBIN, "nvrtcGetCUBIN");
	SYM(s, nvrtcDestroyProgram, "nvrtcDestroyProgram");
	SYM(s, nvrtcGetErrorString, "nvrtcGetErrorString");
}

static void kiln_lt_bind(kiln_lt* s, char* missing, size_t cap) {
	SYM(s, cublasLtGetVersion, "cublasLtGetVersion");
	SYM(s, cublasLtCreate, "cublasLtCreate");
	SYM(s, cublasLtDestroy, "cublasLtDestroy");
	SYM(s, cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate");
	SYM(s, cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy");
	SYM(s, cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute");
	SYM(s, cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate");
	SYM(s, cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy");
	SYM(s, cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate");
	SYM(s, cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy");
	SYM(s, cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute");
	SYM(s, cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic");
	SYM(s, cublasLtMatmul, "cublasLtMatmul");
}

// ---- driver calls; each sets the context current on the calling OS thread
// first, because goroutines move between threads and CUDA's current context
// is per thread.

static const char* kiln_cu_errstr(kiln_cu* s, CUresult r) {
	const char* p = NULL;
	if (s->cuGetErrorString == NULL || s->cuGetErrorString(r, &p) != 0 || p == NULL) return "unknown CUDA error";
	return p;
}

static CUresult kiln_cu_init(kiln_cu* s, int ordinal, CUdevice* dev, CUcontext* ctx) {
	CUresult r = s->cuInit(0);
	if (r) return r;
	r = s->cuDeviceGet(dev, ordinal);
	if (r) return r;
	r = s->cuDevicePrimaryCtxRetain(ctx, *dev);
	if (r) return r;
	return s->cuCtxSetCurrent(*ctx);
}

static CUresult kiln_cu_attr(kiln_cu* s, CUdevice dev, int attr, int* out) { return s->cuDeviceGetAttribute(out, attr, dev); }
static CUresult kiln_cu_name(kiln_cu* s, CUdevice dev, char* buf, int n) { return s->cuDeviceGetName(buf, n, dev); }
static CUresult kiln_cu_totalmem(kiln_cu* s, CUdevice dev, size_t* out) { return s->cuDeviceTotalMem(out, dev); }
static CUresult kiln_cu_version(kiln_cu* s, int* v) { return s->cuDriverGetVersion(v); }
static CUresult kiln_cu_count(kiln_cu* s, int* n) { return s->cuDeviceGetCount(n); }

static CUresult kiln_cu_release(kiln_cu* s, CUdevice dev) { return s->cuDevicePrimaryCtxRelease(dev); }

static CUresult kiln_cu_sync(kiln_cu* s, CUcontext c) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuCtxSynchronize();
}
static CUresult kiln_cu_alloc(kiln_cu* s, CUcontext c, CUdeviceptr* p, size_t n) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemAlloc(p, n);
}
static CUresult kiln_cu_free(kiln_cu* s, CUcontext c, CUdeviceptr p) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemFree(p);
}
static CUresult kiln_cu_htod(kiln_cu* s, CUcontext c, CUdeviceptr dst, const void* src, size_t n) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemcpyHtoD(dst, src, n);
}
static CUresult kiln_cu_dtoh(kiln_cu* s, CUcontext c, void* dst, CUdeviceptr src, size_t n) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemcpyDtoH(dst, src, n);
}
static CUresult kiln_cu_dtod(kiln_cu* s, CUcontext c, CUdeviceptr dst, CUdeviceptr src, size_t n) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemcpyDtoD(dst, src, n);
}
static CUresult kiln_cu_memset(kiln_cu* s, CUcontext c, CUdeviceptr dst, unsigned char v, size_t n) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuMemsetD8(dst, v, n);
}
static CUresult kiln_cu_load(kiln_cu* s, CUcontext c, CUmodule* m, const void* image) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuModuleLoadData(m, image);
}
static CUresult kiln_cu_unload(kiln_cu* s, CUcontext c, CUmodule m) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuModuleUnload(m);
}
static CUresult kiln_cu_func(kiln_cu* s, CUcontext c, CUfunction* f, CUmodule m, const char* name) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuModuleGetFunction(f, m, name);
}
static CUresult kiln_cu_func_smem(kiln_cu* s, CUfunction f, int bytes) {
	// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
	return s->cuFuncSetAttribute(f, 8, bytes);
}

// kiln_cu_launch passes each kernel argument from one 8-byte slot of args:
// the kernel reads as many bytes as its parameter has (little-endian, so a
// 4-byte int or float sits in a slot's low half). args is Go memory holding
// no pointers, which cgo allows.
static CUresult kiln_cu_launch(kiln_cu* s, CUcontext c, CUfunction f,
		unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned smem, int nargs, uint64_t* args) {
	void* params[32];
	if (nargs > 32) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, NULL, params, NULL);
}

static CUresult kiln_cu_event_create(kiln_cu* s, CUcontext c, CUevent* e) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuEventCreate(e, 0);
}
static CUresult kiln_cu_event_record(kiln_cu* s, CUcontext c, CUevent e) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuEventRecord(e, NULL);
}
static CUresult kiln_cu_event_elapsed(kiln_cu* s, CUcontext c, CUevent a, CUevent b, float* ms) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	r = s->cuEventSynchronize(b); if (r) return r;
	return s->cuEventElapsedTime(ms, a, b);
}
static CUresult kiln_cu_event_destroy(kiln_cu* s, CUcontext c, CUevent e) {
	CUresult r = s->cuCtxSetCurrent(c); if (r) return r;
	return s->cuEventDestroy(e);
}

// ---- NVRTC

static const char* kiln_nvrtc_errstr(kiln_nvrtc* s, nvrtcResult r) {
	const char* p = s->nvrtcGetErrorString ? s->nvrtcGetErrorString(r) : NULL;
	return p ? p : "unknown NVRTC error";
}

static nvrtcResult kiln_nvrtc_version(kiln_nvrtc* s, int* major, int* minor) { return s->nvrtcVersion(major, minor); }

// kiln_nvrtc_compile compiles src and returns the cubin and the log in
// malloc'd buffers the caller frees. stage reports which step failed.
static nvrtcResult kiln_nvrtc_compile(kiln_nvrtc* s, const char* src, const char* name,
		int nopts, char** opts, char** cubin, size_t* cubinSize, char** log, int* stage) {
	nvrtcProgram p = NULL;
	*cubin = NULL; *cubinSize = 0; *log = NULL;
	*stage = 0;
	nvrtcResult r = s->nvrtcCreateProgram(&p, src, name, 0, NULL, NULL);
	if (r) return r;
	*stage = 1;
	nvrtcResult cr = s->nvrtcCompileProgram(p, nopts, (const char* const*)opts);
	size_t ls = 0;
	if (s->nvrtcGetProgramLogSize(p, &ls) == 0 && ls > 1) {
		*log = (char*)malloc(ls + 1);
		if (*log && s->nvrtcGetProgramLog(p, *log) != 0) { (*log)[0] = 0; }
		if (*log) (*log)[ls] = 0;
	}
	if (cr) { s->nvrtcDestroyProgram(&p); return cr; }
	*stage = 2;
	size_t n = 0;
	r = s->nvrtcGetCUBINSize(p, &n);
	if (r) { s->nvrtcDestroyProgram(&p); return r; }
	*cubin = (char*)malloc(n);
	r = s->nvrtcGetCUBIN(p, *cubin);
	*cubinSize = n;
	s->nvrtcDestroyProgram(&p);
	return r;
}

// ---- cuBLASLt. A plan is one matmul shape with its chosen algorithm.

typedef struct {
	void* desc;
	void* a;
	void* b;
	void* c;
	kiln_lt_algo algo;
	size_t ws;
} kiln_plan;

static cublasStatus_t kiln_lt_version(kiln_lt* s, size_t* v) { *v = s->cublasLtGetVersion(); return 0; }
static cublasStatus_t kiln_lt_create(kiln_lt* s, CUcontext c, kiln_cu* cu, void** h) {
	if (cu->cuCtxSetCurrent(c)) return 3;
	return s->cublasLtCreate(h);
}
static cublasStatus_t kiln_lt_destroy(kiln_lt* s, void* h) { return s->cublasLtDestroy(h); }

static void kiln_plan_free(kiln_lt* s, kiln_plan* p) {
	if (p->desc) s->cublasLtMatmulDescDestroy(p->desc);
	if (p->a) s->cublasLtMatrixLayoutDestroy(p->a);
	if (p->b) s->cublasLtMatrixLayoutDestroy(p->b);
	if (p->c) s->cublasLtMatrixLayoutDestroy(p->c);
	memset(p, 0, sizeof(*p));
}

// kiln_plan_make describes D[m,n] = op(A) op(B) (+ C) in column-major terms,
// A and B bf16 (CUDA_R_16BF = 14), C/D of type ctype, fp32 compute
// (CUBLAS_COMPUTE_32F = 68) and fp32 scale (CUDA_R_32F = 0).
static cublasStatus_t kiln_plan_make(kiln_lt* s, void* h, kiln_plan* p, int transa, int transb,
		uint64_t m, uint64_t n, uint64_t k, int64_t lda, int64_t ldb, int64_t ldc, int ctype, size_t wsMax, uint32_t alignC, int* found) {
	cublasStatus_t r;
	memset(p, 0, sizeof(*p));
	*found = 0;
	r = s->cublasLtMatmulDescCreate(&p->desc, 68, 0); if (r) goto fail;
	r = s->cublasLtMatmulDescSetAttribute(p->desc, 3, &transa, sizeof(int)); if (r) goto fail;
	r = s->cublasLtMatmulDescSetAttribute(p->desc, 4, &transb, sizeof(int)); if (r) goto fail;
	r = s->cublasLtMatrixLayoutCreate(&p->a, 14, transa ? k : m, transa ? m : k, lda); if (r) goto fail;
	r = s->cublasLtMatrixLayoutCreate(&p->b, 14, transb ? n : k, transb ? k : n, ldb); if (r) goto fail;
	r = s->cublasLtMatrixLayoutCreate(&p->c, ctype, m, n, ldc); if (r) goto fail;
	void* pref = NULL;
	r = s->cublasLtMatmulPreferenceCreate(&pref); if (r) goto fail;
	uint64_t ws64 = wsMax;
	r = s->cublasLtMatmulPreferenceSetAttribute(pref, 1, &ws64, sizeof(ws64));
	if (r) { s->cublasLtMatmulPreferenceDestroy(pref); goto fail; }
	// C/D may be a view into a larger buffer: tell the heuristic its real
	// alignment (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7, D = 8).
	r = s->cublasLtMatmulPreferenceSetAttribute(pref, 7, &alignC, sizeof(alignC));
	if (!r) r = s->cublasLtMatmulPreferenceSetAttribute(pref, 8, &alignC, sizeof(alignC));
	if (r) { s->cublasLtMatmulPreferenceDestroy(pref); goto fail; }
	kiln_lt_heur heur[1];
	int count = 0;
	r = s->cublasLtMatmulAlgoGetHeuristic(h, p->desc, p->a, p->b, p->c, p->c, pref, 1, heur, &count);
	s->cublasLtMatmulPreferenceDestroy(pref);
	if (r) goto fail;
	if (count < 1) { *found = 0; kiln_plan_free(s, p); return 0; }
	*found = 1;
	p->algo = heur[0].algo;
	p->ws = heur[0].workspaceSize;
	return 0;
fail:
	kiln_plan_free(s, p);
	return r;
}

static cublasStatus_t kiln_plan_run(kiln_lt* s, kiln_cu* cu, CUcontext c, void* h, kiln_plan* p,
		float alpha, float beta, CUdeviceptr A, CUdeviceptr B, CUdeviceptr C, CUdeviceptr ws, size_t wsSize) {
	if (cu->cuCtxSetCurrent(c)) return 3;
	return s->cublasLtMatmul(h, p->desc, &alpha, (const void*)A, p->a, (const void*)B, p->b, &beta,
		(const void*)C, p->c, (void*)C, p->c, &p->algo, (void*)ws, wsSize, NULL);
}
#endif
