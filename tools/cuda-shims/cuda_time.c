// A timing shim for the CUDA driver: DEEPEP_CUDA_LIBRARY=libcudatime.so makes every driver call DeepEP makes go
// through here to the real libcuda.so.1 (or CUDA_TIME_REAL), and at exit prints, per entry point, the calls and the
// host time they took (CLOCK_MONOTONIC around the real call). scripts/host-overhead.sh uses it on the GPU machine:
// it splits a call's host time into the driver's part and ours. Generated from null_cuda.c's signatures.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int CUresult;
typedef uintptr_t handle;
typedef struct { unsigned char bytes[64]; } ipc_handle;

enum { ENTRIES = 64 };
static const char *names[ENTRIES];
static uint64_t calls[ENTRIES], nanoseconds[ENTRIES];
static void *real_library;

static uint64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *real(const char *name)
{
    if (!real_library) {
        const char *path = getenv("CUDA_TIME_REAL");
        real_library = dlopen(path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!real_library) {
            fprintf(stderr, "cudatime: %s\n", dlerror());
            abort();
        }
    }
    void *entry = dlsym(real_library, name);
    if (!entry) {
        fprintf(stderr, "cudatime: no %s in the real driver\n", name);
        abort();
    }
    return entry;
}

// Not thread-safe on purpose (no atomics in the timed path): time one rank per process.
#define TIMED(index, name, call) \
    static CUresult (*target)(); \
    if (!target) { target = (CUresult (*)())real(name); names[index] = name; } \
    uint64_t timed_start = now(); \
    CUresult timed_result = call; \
    nanoseconds[index] += now() - timed_start; \
    calls[index]++; \
    return timed_result;

__attribute__((destructor)) static void report(void)
{
    FILE *out = getenv("CUDA_TIME_OUT") ? fopen(getenv("CUDA_TIME_OUT"), "w") : stderr;
    if (!out) {
        return;
    }
    fprintf(out, "entry point,calls,host us,us per call\n");
    for (int i = 0; i < ENTRIES; i++) {
        if (calls[i]) {
            fprintf(out, "%s,%llu,%.1f,%.3f\n", names[i], (unsigned long long)calls[i], nanoseconds[i] / 1e3, nanoseconds[i] / 1e3 / calls[i]);
        }
    }
    if (out != stderr) {
        fclose(out);
    }
}

// Error strings are not timed.
CUresult cuGetErrorName(CUresult error, const char **name) { return ((CUresult (*)(CUresult, const char **))real("cuGetErrorName"))(error, name); }
CUresult cuGetErrorString(CUresult error, const char **text) { return ((CUresult (*)(CUresult, const char **))real("cuGetErrorString"))(error, text); }

CUresult cuInit(unsigned flags) { TIMED(0, "cuInit", ((CUresult (*)(unsigned flags))target)(flags)) }
CUresult cuDriverGetVersion(int *version) { TIMED(1, "cuDriverGetVersion", ((CUresult (*)(int *version))target)(version)) }
CUresult cuDeviceGetCount(int *count) { TIMED(2, "cuDeviceGetCount", ((CUresult (*)(int *count))target)(count)) }
CUresult cuDeviceGet(int *device, int ordinal) { TIMED(3, "cuDeviceGet", ((CUresult (*)(int *device, int ordinal))target)(device, ordinal)) }
CUresult cuDeviceGetName(char *name, int length, int device) { TIMED(4, "cuDeviceGetName", ((CUresult (*)(char *name, int length, int device))target)(name, length, device)) }
CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) { TIMED(5, "cuDeviceTotalMem_v2", ((CUresult (*)(size_t *bytes, int device))target)(bytes, device)) }
CUresult cuDeviceGetUuid_v2(unsigned char *uuid, int device) { TIMED(6, "cuDeviceGetUuid_v2", ((CUresult (*)(unsigned char *uuid, int device))target)(uuid, device)) }
CUresult cuDeviceGetAttribute(int *value, int attribute, int device) { TIMED(7, "cuDeviceGetAttribute", ((CUresult (*)(int *value, int attribute, int device))target)(value, attribute, device)) }
CUresult cuDevicePrimaryCtxRetain(handle *context, int device) { TIMED(8, "cuDevicePrimaryCtxRetain", ((CUresult (*)(handle *context, int device))target)(context, device)) }
CUresult cuDevicePrimaryCtxRelease_v2(int device) { TIMED(9, "cuDevicePrimaryCtxRelease_v2", ((CUresult (*)(int device))target)(device)) }
CUresult cuCtxSetCurrent(handle context) { TIMED(10, "cuCtxSetCurrent", ((CUresult (*)(handle context))target)(context)) }
CUresult cuCtxGetCurrent(handle *context) { TIMED(11, "cuCtxGetCurrent", ((CUresult (*)(handle *context))target)(context)) }
CUresult cuCtxSynchronize(void) { TIMED(12, "cuCtxSynchronize", ((CUresult (*)(void))target)()) }
CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) { TIMED(13, "cuCtxGetStreamPriorityRange", ((CUresult (*)(int *least, int *greatest))target)(least, greatest)) }
CUresult cuDeviceCanAccessPeer(int *can, int device, int peer) { TIMED(14, "cuDeviceCanAccessPeer", ((CUresult (*)(int *can, int device, int peer))target)(can, device, peer)) }
CUresult cuCtxEnablePeerAccess(handle peer, unsigned flags) { TIMED(15, "cuCtxEnablePeerAccess", ((CUresult (*)(handle peer, unsigned flags))target)(peer, flags)) }
CUresult cuDeviceGetP2PAttribute(int *value, int attribute, int source, int destination) { TIMED(16, "cuDeviceGetP2PAttribute", ((CUresult (*)(int *value, int attribute, int source, int destination))target)(value, attribute, source, destination)) }
CUresult cuMemAlloc_v2(void **pointer, size_t bytes) { TIMED(17, "cuMemAlloc_v2", ((CUresult (*)(void **pointer, size_t bytes))target)(pointer, bytes)) }
CUresult cuMemFree_v2(void *pointer) { TIMED(18, "cuMemFree_v2", ((CUresult (*)(void *pointer))target)(pointer)) }
CUresult cuMemAllocAsync(void **pointer, size_t bytes, handle stream) { TIMED(19, "cuMemAllocAsync", ((CUresult (*)(void **pointer, size_t bytes, handle stream))target)(pointer, bytes, stream)) }
CUresult cuMemFreeAsync(void *pointer, handle stream) { TIMED(20, "cuMemFreeAsync", ((CUresult (*)(void *pointer, handle stream))target)(pointer, stream)) }
CUresult cuDeviceGetDefaultMemPool(handle *pool, int device) { TIMED(21, "cuDeviceGetDefaultMemPool", ((CUresult (*)(handle *pool, int device))target)(pool, device)) }
CUresult cuMemPoolSetAttribute(handle pool, int attribute, void *value) { TIMED(22, "cuMemPoolSetAttribute", ((CUresult (*)(handle pool, int attribute, void *value))target)(pool, attribute, value)) }
CUresult cuMemPoolGetAttribute(handle pool, int attribute, void *value) { TIMED(23, "cuMemPoolGetAttribute", ((CUresult (*)(handle pool, int attribute, void *value))target)(pool, attribute, value)) }
CUresult cuMemPoolSetAccess(handle pool, const void *map, size_t count) { TIMED(24, "cuMemPoolSetAccess", ((CUresult (*)(handle pool, const void *map, size_t count))target)(pool, map, count)) }
CUresult cuMemHostAlloc(void **pointer, size_t bytes, unsigned flags) { TIMED(25, "cuMemHostAlloc", ((CUresult (*)(void **pointer, size_t bytes, unsigned flags))target)(pointer, bytes, flags)) }
CUresult cuMemHostGetDevicePointer_v2(void **device_pointer, void *host_pointer, unsigned flags) { TIMED(26, "cuMemHostGetDevicePointer_v2", ((CUresult (*)(void **device_pointer, void *host_pointer, unsigned flags))target)(device_pointer, host_pointer, flags)) }
CUresult cuMemFreeHost(void *pointer) { TIMED(27, "cuMemFreeHost", ((CUresult (*)(void *pointer))target)(pointer)) }
CUresult cuMemcpy(void *destination, const void *source, size_t bytes) { TIMED(28, "cuMemcpy", ((CUresult (*)(void *destination, const void *source, size_t bytes))target)(destination, source, bytes)) }
CUresult cuMemcpyAsync(void *destination, const void *source, size_t bytes, handle stream) { TIMED(29, "cuMemcpyAsync", ((CUresult (*)(void *destination, const void *source, size_t bytes, handle stream))target)(destination, source, bytes, stream)) }
CUresult cuMemcpyPeerAsync(void *destination, handle dc, const void *source, handle sc, size_t bytes, handle stream) { TIMED(30, "cuMemcpyPeerAsync", ((CUresult (*)(void *destination, handle dc, const void *source, handle sc, size_t bytes, handle stream))target)(destination, dc, source, sc, bytes, stream)) }
CUresult cuMemsetD8_v2(void *destination, unsigned char value, size_t count) { TIMED(31, "cuMemsetD8_v2", ((CUresult (*)(void *destination, unsigned char value, size_t count))target)(destination, value, count)) }
CUresult cuMemsetD8Async(void *destination, unsigned char value, size_t count, handle stream) { TIMED(32, "cuMemsetD8Async", ((CUresult (*)(void *destination, unsigned char value, size_t count, handle stream))target)(destination, value, count, stream)) }
CUresult cuMemsetD32Async(void *destination, unsigned value, size_t count, handle stream) { TIMED(33, "cuMemsetD32Async", ((CUresult (*)(void *destination, unsigned value, size_t count, handle stream))target)(destination, value, count, stream)) }
CUresult cuIpcGetMemHandle(ipc_handle *ipc, void *pointer) { TIMED(34, "cuIpcGetMemHandle", ((CUresult (*)(ipc_handle *ipc, void *pointer))target)(ipc, pointer)) }
CUresult cuIpcOpenMemHandle_v2(void **pointer, ipc_handle ipc, unsigned flags) { TIMED(35, "cuIpcOpenMemHandle_v2", ((CUresult (*)(void **pointer, ipc_handle ipc, unsigned flags))target)(pointer, ipc, flags)) }
CUresult cuIpcCloseMemHandle(void *pointer) { TIMED(36, "cuIpcCloseMemHandle", ((CUresult (*)(void *pointer))target)(pointer)) }
CUresult cuModuleLoadData(handle *module, const void *image) { TIMED(37, "cuModuleLoadData", ((CUresult (*)(handle *module, const void *image))target)(module, image)) }
CUresult cuModuleUnload(handle module) { TIMED(38, "cuModuleUnload", ((CUresult (*)(handle module))target)(module)) }
CUresult cuModuleGetFunction(handle *function, handle module, const char *name) { TIMED(39, "cuModuleGetFunction", ((CUresult (*)(handle *function, handle module, const char *name))target)(function, module, name)) }
CUresult cuModuleGetGlobal_v2(void **pointer, size_t *bytes, handle module, const char *name) { TIMED(40, "cuModuleGetGlobal_v2", ((CUresult (*)(void **pointer, size_t *bytes, handle module, const char *name))target)(pointer, bytes, module, name)) }
CUresult cuFuncGetAttribute(int *value, int attribute, handle function) { TIMED(41, "cuFuncGetAttribute", ((CUresult (*)(int *value, int attribute, handle function))target)(value, attribute, function)) }
CUresult cuFuncSetAttribute(handle function, int attribute, int value) { TIMED(42, "cuFuncSetAttribute", ((CUresult (*)(handle function, int attribute, int value))target)(function, attribute, value)) }
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *blocks, handle function, int block_size, size_t shared) { TIMED(43, "cuOccupancyMaxActiveBlocksPerMultiprocessor", ((CUresult (*)(int *blocks, handle function, int block_size, size_t shared))target)(blocks, function, block_size, shared)) }
CUresult cuLaunchKernel(handle f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, handle stream, void **params, void **extra) { TIMED(44, "cuLaunchKernel", ((CUresult (*)(handle f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, handle stream, void **params, void **extra))target)(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra)) }
CUresult cuLaunchKernelEx(const void *config, handle function, void **params, void **extra) { TIMED(45, "cuLaunchKernelEx", ((CUresult (*)(const void *config, handle function, void **params, void **extra))target)(config, function, params, extra)) }
CUresult cuStreamCreateWithPriority(handle *stream, unsigned flags, int priority) { TIMED(46, "cuStreamCreateWithPriority", ((CUresult (*)(handle *stream, unsigned flags, int priority))target)(stream, flags, priority)) }
CUresult cuStreamDestroy_v2(handle stream) { TIMED(47, "cuStreamDestroy_v2", ((CUresult (*)(handle stream))target)(stream)) }
CUresult cuStreamSynchronize(handle stream) { TIMED(48, "cuStreamSynchronize", ((CUresult (*)(handle stream))target)(stream)) }
CUresult cuStreamQuery(handle stream) { TIMED(49, "cuStreamQuery", ((CUresult (*)(handle stream))target)(stream)) }
CUresult cuStreamWaitEvent(handle stream, handle event, unsigned flags) { TIMED(50, "cuStreamWaitEvent", ((CUresult (*)(handle stream, handle event, unsigned flags))target)(stream, event, flags)) }
CUresult cuStreamBeginCapture_v2(handle stream, int mode) { TIMED(51, "cuStreamBeginCapture_v2", ((CUresult (*)(handle stream, int mode))target)(stream, mode)) }
CUresult cuStreamEndCapture(handle stream, handle *graph) { TIMED(52, "cuStreamEndCapture", ((CUresult (*)(handle stream, handle *graph))target)(stream, graph)) }
CUresult cuStreamIsCapturing(handle stream, int *status) { TIMED(53, "cuStreamIsCapturing", ((CUresult (*)(handle stream, int *status))target)(stream, status)) }
CUresult cuEventCreate(handle *event, unsigned flags) { TIMED(54, "cuEventCreate", ((CUresult (*)(handle *event, unsigned flags))target)(event, flags)) }
CUresult cuEventDestroy_v2(handle event) { TIMED(55, "cuEventDestroy_v2", ((CUresult (*)(handle event))target)(event)) }
CUresult cuEventRecord(handle event, handle stream) { TIMED(56, "cuEventRecord", ((CUresult (*)(handle event, handle stream))target)(event, stream)) }
CUresult cuEventSynchronize(handle event) { TIMED(57, "cuEventSynchronize", ((CUresult (*)(handle event))target)(event)) }
CUresult cuEventQuery(handle event) { TIMED(58, "cuEventQuery", ((CUresult (*)(handle event))target)(event)) }
CUresult cuEventElapsedTime(float *milliseconds, handle start, handle end) { TIMED(59, "cuEventElapsedTime", ((CUresult (*)(float *milliseconds, handle start, handle end))target)(milliseconds, start, end)) }
CUresult cuGraphInstantiateWithFlags(handle *exec, handle graph, unsigned long long flags) { TIMED(60, "cuGraphInstantiateWithFlags", ((CUresult (*)(handle *exec, handle graph, unsigned long long flags))target)(exec, graph, flags)) }
CUresult cuGraphLaunch(handle exec, handle stream) { TIMED(61, "cuGraphLaunch", ((CUresult (*)(handle exec, handle stream))target)(exec, stream)) }
CUresult cuGraphExecDestroy(handle exec) { TIMED(62, "cuGraphExecDestroy", ((CUresult (*)(handle exec))target)(exec)) }
CUresult cuGraphDestroy(handle graph) { TIMED(63, "cuGraphDestroy", ((CUresult (*)(handle graph))target)(graph)) }
