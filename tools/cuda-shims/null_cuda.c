// A null CUDA driver, NVRTC and NCCL: every entry point DeepEP imports, answering like one idle Hopper GPU whose
// kernels do nothing. Device memory is host memory, so copies and fills work; launches return at once. It exists to
// time and count the host side of a call (scripts/host-overhead.sh) on a machine without a GPU; no result is right.
// NULL_CUDA_TRACE=FILE writes one line per driver call, so the calls of one operation can be read off.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef int CUresult;
typedef uintptr_t handle;
typedef struct { unsigned char bytes[64]; } ipc_handle;   // CUipcMemHandle, passed by value
typedef struct { unsigned char bytes[128]; } unique_id;   // ncclUniqueId, passed by value
#define OK 0

static FILE *trace_file;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void trace(const char *name)
{
    static int opened;
    if (!opened) {
        const char *path = getenv("NULL_CUDA_TRACE");
        trace_file = path ? fopen(path, "w") : NULL;
        opened = 1;
    }
    if (trace_file) {
        pthread_mutex_lock(&trace_lock);
        fprintf(trace_file, "%s\n", name);
        fflush(trace_file);
        pthread_mutex_unlock(&trace_lock);
    }
}
#define CALL() trace(__func__)

// Device memory: page-aligned anonymous mappings (zeroed, paged in on use), their size in the page before. Freed
// blocks wait on a small list for a request of the same size, as a stream-ordered pool would serve them.
#define PAGE 4096
#define CACHED 64
static void *cached[CACHED];
static size_t cached_size[CACHED];
static pthread_mutex_t memory_lock = PTHREAD_MUTEX_INITIALIZER;

static void *allocate(size_t bytes)
{
    size_t total = (bytes + 2 * PAGE - 1) / PAGE * PAGE;
    pthread_mutex_lock(&memory_lock);
    for (int i = 0; i < CACHED; i++) {
        if (cached[i] && cached_size[i] == total) {
            void *reused = cached[i];
            cached[i] = NULL;
            pthread_mutex_unlock(&memory_lock);
            return reused;
        }
    }
    pthread_mutex_unlock(&memory_lock);
    char *block = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (block == MAP_FAILED) {
        return NULL;
    }
    *(size_t *)block = total;
    return block + PAGE;
}

static void release(void *pointer)
{
    if (!pointer) {
        return;
    }
    char *block = (char *)pointer - PAGE;
    size_t total = *(size_t *)block;
    pthread_mutex_lock(&memory_lock);
    for (int i = 0; i < CACHED; i++) {
        if (!cached[i]) {
            cached[i] = pointer;
            cached_size[i] = total;
            pthread_mutex_unlock(&memory_lock);
            return;
        }
    }
    pthread_mutex_unlock(&memory_lock);
    munmap(block, total);
}

static handle new_handle(void) { return (handle)calloc(1, 64); }

// Initialisation, devices, contexts.
CUresult cuInit(unsigned flags) { (void)flags; CALL(); return OK; }
CUresult cuDriverGetVersion(int *version) { CALL(); *version = 13000; return OK; }
CUresult cuGetErrorName(CUresult error, const char **name) { (void)error; *name = "CUDA_ERROR_NULL_DRIVER"; return OK; }
CUresult cuGetErrorString(CUresult error, const char **text) { (void)error; *text = "null driver"; return OK; }
CUresult cuDeviceGetCount(int *count) { CALL(); *count = 1; return OK; }
CUresult cuDeviceGet(int *device, int ordinal) { CALL(); *device = ordinal; return OK; }
CUresult cuDeviceGetName(char *name, int length, int device) { (void)device; CALL(); snprintf(name, length, "Null GPU (no kernels run)"); return OK; }
CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) { (void)device; CALL(); *bytes = (size_t)80 << 30; return OK; }
CUresult cuDeviceGetUuid_v2(unsigned char *uuid, int device) { CALL(); memset(uuid, 0, 16); uuid[0] = (unsigned char)device; return OK; }

CUresult cuDeviceGetAttribute(int *value, int attribute, int device)
{
    (void)device;
    CALL();
    switch (attribute) {
    case 1: *value = 1024; break;           // max threads per block
    case 8: *value = 48 * 1024; break;      // shared memory per block
    case 10: *value = 32; break;            // warp size
    case 16: *value = 132; break;           // SMs (an H100 SXM)
    case 36: *value = 2619000; break;       // memory clock, kHz
    case 37: *value = 5120; break;          // memory bus width, bits
    case 38: *value = 50 << 20; break;      // L2 bytes
    case 39: *value = 2048; break;          // threads per SM
    case 75: *value = 9; break;             // compute capability
    case 76: *value = 0; break;
    case 81: *value = 228 * 1024; break;    // shared memory per SM
    case 97: *value = 227 * 1024; break;    // opt-in shared memory per block
    case 33: case 34: case 50: *value = 0; break;
    default: *value = 1; break;             // capabilities: yes
    }
    return OK;
}

static __thread handle current_context;
static handle primary_context;
CUresult cuDevicePrimaryCtxRetain(handle *context, int device) { (void)device; CALL(); if (!primary_context) primary_context = new_handle(); *context = primary_context; return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int device) { (void)device; CALL(); return OK; }
CUresult cuCtxSetCurrent(handle context) { CALL(); current_context = context; return OK; }
CUresult cuCtxGetCurrent(handle *context) { CALL(); *context = current_context; return OK; }
CUresult cuCtxSynchronize(void) { CALL(); return OK; }
CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest) { CALL(); *least = 0; *greatest = -5; return OK; }
CUresult cuDeviceCanAccessPeer(int *can, int device, int peer) { (void)device; (void)peer; CALL(); *can = 0; return OK; }
CUresult cuCtxEnablePeerAccess(handle peer, unsigned flags) { (void)peer; (void)flags; CALL(); return OK; }
CUresult cuDeviceGetP2PAttribute(int *value, int attribute, int source, int destination) { (void)attribute; (void)source; (void)destination; CALL(); *value = 0; return OK; }

// Memory.
CUresult cuMemAlloc_v2(void **pointer, size_t bytes) { CALL(); *pointer = allocate(bytes); return *pointer ? OK : 2; }
CUresult cuMemFree_v2(void *pointer) { CALL(); release(pointer); return OK; }
CUresult cuMemAllocAsync(void **pointer, size_t bytes, handle stream) { (void)stream; CALL(); *pointer = allocate(bytes); return *pointer ? OK : 2; }
CUresult cuMemFreeAsync(void *pointer, handle stream) { (void)stream; CALL(); release(pointer); return OK; }
CUresult cuDeviceGetDefaultMemPool(handle *pool, int device) { (void)device; CALL(); static handle p; if (!p) p = new_handle(); *pool = p; return OK; }
CUresult cuMemPoolSetAttribute(handle pool, int attribute, void *value) { (void)pool; (void)attribute; (void)value; CALL(); return OK; }
CUresult cuMemPoolGetAttribute(handle pool, int attribute, void *value) { (void)pool; (void)attribute; CALL(); *(uint64_t *)value = 0; return OK; }
CUresult cuMemPoolSetAccess(handle pool, const void *map, size_t count) { (void)pool; (void)map; (void)count; CALL(); return OK; }
CUresult cuMemHostAlloc(void **pointer, size_t bytes, unsigned flags) { (void)flags; CALL(); *pointer = allocate(bytes); return *pointer ? OK : 2; }
CUresult cuMemHostGetDevicePointer_v2(void **device_pointer, void *host_pointer, unsigned flags) { (void)flags; CALL(); *device_pointer = host_pointer; return OK; }
CUresult cuMemFreeHost(void *pointer) { CALL(); release(pointer); return OK; }
CUresult cuMemcpy(void *destination, const void *source, size_t bytes) { CALL(); memmove(destination, source, bytes); return OK; }
CUresult cuMemcpyAsync(void *destination, const void *source, size_t bytes, handle stream) { (void)stream; CALL(); memmove(destination, source, bytes); return OK; }
CUresult cuMemcpyPeerAsync(void *destination, handle dc, const void *source, handle sc, size_t bytes, handle stream) { (void)dc; (void)sc; (void)stream; CALL(); memmove(destination, source, bytes); return OK; }
CUresult cuMemsetD8_v2(void *destination, unsigned char value, size_t count) { CALL(); memset(destination, value, count); return OK; }
CUresult cuMemsetD8Async(void *destination, unsigned char value, size_t count, handle stream) { (void)stream; CALL(); memset(destination, value, count); return OK; }
CUresult cuMemsetD32Async(void *destination, unsigned value, size_t count, handle stream)
{
    (void)stream;
    CALL();
    for (size_t i = 0; i < count; i++) {
        ((unsigned *)destination)[i] = value;
    }
    return OK;
}
CUresult cuIpcGetMemHandle(ipc_handle *ipc, void *pointer) { CALL(); memset(ipc, 0, sizeof *ipc); memcpy(ipc->bytes, &pointer, sizeof pointer); return OK; }
CUresult cuIpcOpenMemHandle_v2(void **pointer, ipc_handle ipc, unsigned flags) { (void)flags; CALL(); memcpy(pointer, ipc.bytes, sizeof *pointer); return OK; }
CUresult cuIpcCloseMemHandle(void *pointer) { (void)pointer; CALL(); return OK; }

// Modules and launches: any image loads, every function exists, every launch succeeds and does nothing.
CUresult cuModuleLoadData(handle *module, const void *image) { (void)image; CALL(); *module = new_handle(); return OK; }
CUresult cuModuleUnload(handle module) { CALL(); free((void *)module); return OK; }
CUresult cuModuleGetFunction(handle *function, handle module, const char *name) { (void)module; (void)name; CALL(); *function = new_handle(); return OK; }
CUresult cuModuleGetGlobal_v2(void **pointer, size_t *bytes, handle module, const char *name) { (void)module; (void)name; CALL(); *pointer = allocate(PAGE); *bytes = PAGE; return OK; }
CUresult cuFuncGetAttribute(int *value, int attribute, handle function) { (void)function; CALL(); *value = attribute == 0 ? 1024 : 32; return OK; }
CUresult cuFuncSetAttribute(handle function, int attribute, int value) { (void)function; (void)attribute; (void)value; CALL(); return OK; }
CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *blocks, handle function, int block_size, size_t shared) { (void)function; (void)block_size; (void)shared; CALL(); *blocks = 2; return OK; }
CUresult cuLaunchKernel(handle f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, handle stream, void **params, void **extra)
{
    (void)f; (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)shared; (void)stream; (void)params; (void)extra;
    CALL();
    return OK;
}
CUresult cuLaunchKernelEx(const void *config, handle function, void **params, void **extra) { (void)config; (void)function; (void)params; (void)extra; CALL(); return OK; }

// Streams, events, graphs: all work is done when it is issued; a capture records nothing.
struct stream { int capturing; };
CUresult cuStreamCreateWithPriority(handle *stream, unsigned flags, int priority) { (void)flags; (void)priority; CALL(); *stream = new_handle(); return OK; }
CUresult cuStreamDestroy_v2(handle stream) { CALL(); free((void *)stream); return OK; }
CUresult cuStreamSynchronize(handle stream) { (void)stream; CALL(); return OK; }
CUresult cuStreamQuery(handle stream) { (void)stream; CALL(); return OK; }
CUresult cuStreamWaitEvent(handle stream, handle event, unsigned flags) { (void)stream; (void)event; (void)flags; CALL(); return OK; }
CUresult cuStreamBeginCapture_v2(handle stream, int mode) { (void)mode; CALL(); if (stream > PAGE) ((struct stream *)stream)->capturing = 1; return OK; }
CUresult cuStreamEndCapture(handle stream, handle *graph) { CALL(); if (stream > PAGE) ((struct stream *)stream)->capturing = 0; *graph = new_handle(); return OK; }
CUresult cuStreamIsCapturing(handle stream, int *status) { CALL(); *status = stream > PAGE ? ((struct stream *)stream)->capturing : 0; return OK; }
CUresult cuEventCreate(handle *event, unsigned flags) { (void)flags; CALL(); *event = new_handle(); return OK; }
CUresult cuEventDestroy_v2(handle event) { CALL(); free((void *)event); return OK; }
CUresult cuEventRecord(handle event, handle stream) { (void)event; (void)stream; CALL(); return OK; }
CUresult cuEventSynchronize(handle event) { (void)event; CALL(); return OK; }
CUresult cuEventQuery(handle event) { (void)event; CALL(); return OK; }
CUresult cuEventElapsedTime(float *milliseconds, handle start, handle end) { (void)start; (void)end; CALL(); *milliseconds = 0.001f; return OK; }
CUresult cuGraphInstantiateWithFlags(handle *exec, handle graph, unsigned long long flags) { (void)graph; (void)flags; CALL(); *exec = new_handle(); return OK; }
CUresult cuGraphLaunch(handle exec, handle stream) { (void)exec; (void)stream; CALL(); return OK; }
CUresult cuGraphExecDestroy(handle exec) { CALL(); free((void *)exec); return OK; }
CUresult cuGraphDestroy(handle graph) { CALL(); free((void *)graph); return OK; }

// NVRTC: every program compiles to an empty image; a name expression lowers to itself.
struct program { char *names[64]; int count; };
CUresult nvrtcVersion(int *major, int *minor) { *major = 13; *minor = 0; return OK; }
const char *nvrtcGetErrorString(int result) { (void)result; return "null NVRTC"; }
CUresult nvrtcCreateProgram(handle *program, const char *source, const char *name, int headers, const char **contents, const char **names)
{
    (void)source; (void)name; (void)headers; (void)contents; (void)names;
    *program = (handle)calloc(1, sizeof(struct program));
    return OK;
}
CUresult nvrtcDestroyProgram(handle *program)
{
    struct program *p = (struct program *)*program;
    for (int i = 0; i < p->count; i++) {
        free(p->names[i]);
    }
    free(p);
    return OK;
}
CUresult nvrtcAddNameExpression(handle program, const char *expression)
{
    struct program *p = (struct program *)program;
    if (p->count < 64) {
        p->names[p->count++] = strdup(expression);
    }
    return OK;
}
CUresult nvrtcGetLoweredName(handle program, const char *expression, const char **lowered)
{
    struct program *p = (struct program *)program;
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->names[i], expression) == 0) {
            *lowered = p->names[i];
            return OK;
        }
    }
    return 7; // NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID
}
CUresult nvrtcCompileProgram(handle program, int count, const char **options) { (void)program; (void)count; (void)options; return OK; }
CUresult nvrtcGetCUBINSize(handle program, size_t *bytes) { (void)program; *bytes = 8; return OK; }
CUresult nvrtcGetCUBIN(handle program, char *cubin) { (void)program; memcpy(cubin, "nullbin", 8); return OK; }
CUresult nvrtcGetProgramLogSize(handle program, size_t *bytes) { (void)program; *bytes = 1; return OK; }
CUresult nvrtcGetProgramLog(handle program, char *log) { (void)program; log[0] = 0; return OK; }

// NCCL: communicators remember their shape; collectives move nothing.
struct communicator { int ranks, rank, device; };
int ncclGetVersion(int *version) { *version = 22800; return OK; }
int ncclGetUniqueId(unique_id *id) { memset(id, 0, sizeof *id); return OK; }
int ncclCommInitRank(handle *comm, int ranks, unique_id id, int rank)
{
    (void)id;
    struct communicator *c = calloc(1, sizeof *c);
    c->ranks = ranks;
    c->rank = rank;
    *comm = (handle)c;
    return OK;
}
int ncclCommInitRankConfig(handle *comm, int ranks, unique_id id, int rank, const void *config) { (void)config; return ncclCommInitRank(comm, ranks, id, rank); }
int ncclCommFinalize(handle comm) { (void)comm; return OK; }
int ncclCommDestroy(handle comm) { free((void *)comm); return OK; }
int ncclCommAbort(handle comm) { free((void *)comm); return OK; }
int ncclCommCount(handle comm, int *count) { *count = ((struct communicator *)comm)->ranks; return OK; }
int ncclCommUserRank(handle comm, int *rank) { *rank = ((struct communicator *)comm)->rank; return OK; }
int ncclCommCuDevice(handle comm, int *device) { *device = ((struct communicator *)comm)->device; return OK; }
int ncclCommGetAsyncError(handle comm, int *error) { (void)comm; *error = OK; return OK; }
int ncclGroupStart(void) { return OK; }
int ncclGroupEnd(void) { return OK; }
int ncclSend(const void *b, size_t n, int t, int peer, handle comm, handle stream) { (void)b; (void)n; (void)t; (void)peer; (void)comm; (void)stream; return OK; }
int ncclRecv(void *b, size_t n, int t, int peer, handle comm, handle stream) { (void)b; (void)n; (void)t; (void)peer; (void)comm; (void)stream; return OK; }
int ncclAllGather(const void *s, void *r, size_t n, int t, handle comm, handle stream) { (void)s; (void)r; (void)n; (void)t; (void)comm; (void)stream; return OK; }
int ncclAllReduce(const void *s, void *r, size_t n, int t, int op, handle comm, handle stream) { (void)s; (void)r; (void)n; (void)t; (void)op; (void)comm; (void)stream; return OK; }
const char *ncclGetErrorString(int result) { (void)result; return "null NCCL"; }
const char *ncclGetLastError(handle comm) { (void)comm; return ""; }
