#pragma once

// Memory-ordering and cache-hint primitives as explicit PTX. Each carries a NOTES line saying when to use it.
// Scopes: `.sys` orders against peers over NVLink/PCIe and the host (mapped memory); `.gpu` only within this GPU.

namespace deep_ep::ptx {

// NOTES: acquire at system scope: a peer GPU or the host released this flag; later reads must see its data.
__device__ __forceinline__ int ld_acquire_sys(const int* ptr) {
    int value;
    asm volatile("ld.acquire.sys.global.s32 %0, [%1];" : "=r"(value) : "l"(ptr) : "memory");
    return value;
}

// NOTES: 64-bit acquire at system scope, for counters that peers or the host release.
__device__ __forceinline__ long long ld_acquire_sys(const long long* ptr) {
    long long value;
    asm volatile("ld.acquire.sys.global.s64 %0, [%1];" : "=l"(value) : "l"(ptr) : "memory");
    return value;
}

// NOTES: acquire at GPU scope: only other blocks of this GPU write the flag (cheaper than .sys).
__device__ __forceinline__ int ld_acquire_gpu(const int* ptr) {
    int value;
    asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(value) : "l"(ptr) : "memory");
    return value;
}

// NOTES: release at system scope: publishes this thread's earlier writes to peers/the host before the flag.
__device__ __forceinline__ void st_release_sys(int* ptr, int value) {
    asm volatile("st.release.sys.global.s32 [%0], %1;" : : "l"(ptr), "r"(value) : "memory");
}

// NOTES: 64-bit release at system scope, for counters that peers or the host acquire.
__device__ __forceinline__ void st_release_sys(long long* ptr, long long value) {
    asm volatile("st.release.sys.global.s64 [%0], %1;" : : "l"(ptr), "l"(value) : "memory");
}

// NOTES: release at GPU scope: the consumer is another block of this GPU.
__device__ __forceinline__ void st_release_gpu(int* ptr, int value) {
    asm volatile("st.release.gpu.global.s32 [%0], %1;" : : "l"(ptr), "r"(value) : "memory");
}

// NOTES: relaxed at system scope: a coherent poll of a value whose ordering a separate fence provides.
__device__ __forceinline__ int ld_relaxed_sys(const int* ptr) {
    int value;
    asm volatile("ld.relaxed.sys.global.s32 %0, [%1];" : "=r"(value) : "l"(ptr) : "memory");
    return value;
}

// NOTES: relaxed at system scope: a coherent store (no ordering) such as diagnostics fields before a release.
__device__ __forceinline__ void st_relaxed_sys(int* ptr, int value) {
    asm volatile("st.relaxed.sys.global.s32 [%0], %1;" : : "l"(ptr), "r"(value) : "memory");
}

// NOTES: 64-bit relaxed store at system scope.
__device__ __forceinline__ void st_relaxed_sys(long long* ptr, long long value) {
    asm volatile("st.relaxed.sys.global.s64 [%0], %1;" : : "l"(ptr), "l"(value) : "memory");
}

// NOTES: system-scope acquire+release fence: orders all earlier and later accesses against peers and the host.
__device__ __forceinline__ void fence_acq_rel_sys() {
    asm volatile("fence.acq_rel.sys;" : : : "memory");
}

// NOTES: GPU-scope acquire+release fence, for hand-offs between blocks of one GPU.
__device__ __forceinline__ void fence_acq_rel_gpu() {
    asm volatile("fence.acq_rel.gpu;" : : : "memory");
}

// NOTES: volatile load: never cached in registers or L1, for polls of values no ordering rule covers.
__device__ __forceinline__ int ld_volatile(const int* ptr) {
    int value;
    asm volatile("ld.volatile.global.s32 %0, [%1];" : "=r"(value) : "l"(ptr));
    return value;
}

// NOTES: read-only, read-once data (token rows): non-coherent path, no L1 allocation so it does not evict reused lines.
__device__ __forceinline__ int2 ld_nc_no_allocate(const int2* ptr) {
    int2 value;
    asm volatile("ld.global.nc.L1::no_allocate.v2.s32 {%0, %1}, [%2];" : "=r"(value.x), "=r"(value.y) : "l"(ptr));
    return value;
}

// NOTES: 16-byte variant of ld_nc_no_allocate, the width token copies use.
__device__ __forceinline__ int4 ld_nc_no_allocate(const int4* ptr) {
    int4 value;
    asm volatile("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(value.x), "=r"(value.y), "=r"(value.z), "=r"(value.w) : "l"(ptr));
    return value;
}

// NOTES: write-once output: skip L1 allocation so the store does not evict lines other warps reuse.
__device__ __forceinline__ void st_no_allocate(int4* ptr, const int4& value) {
    asm volatile("st.global.L1::no_allocate.v4.s32 [%0], {%1, %2, %3, %4};"
                 : : "l"(ptr), "r"(value.x), "r"(value.y), "r"(value.z), "r"(value.w) : "memory");
}

// NOTES: asynchronous 16-byte global → shared copy (sm_80), cached in L2 only: GEMM operand tiles, staged several
// tiles ahead of the math. With `valid` false it reads nothing and writes zeros (rows past an expert's count).
__device__ __forceinline__ void cp_async_16(void* shared, const void* global, bool valid) {
    const unsigned int address = static_cast<unsigned int>(__cvta_generic_to_shared(shared));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" : : "r"(address), "l"(global), "r"(valid ? 16 : 0) : "memory");
}

// NOTES: closes the group of cp.async copies this thread issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;" : : : "memory");
}

// NOTES: waits until at most kPending of this thread's committed cp.async groups are still in flight; a block
// barrier after it makes every thread's landed copies visible.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" : : "n"(kPending) : "memory");
}

// NOTES: orders this thread's generic-proxy writes to shared memory (cp.async copies included) before async-proxy
// reads of it (wgmma operands); a block barrier after it extends that to the other threads' reads.
__device__ __forceinline__ void fence_proxy_async_shared() {
    asm volatile("fence.proxy.async.shared::cta;" : : : "memory");
}

// NOTES: release-add at system scope: a counter peers acquire; the add publishes this thread's earlier writes.
__device__ __forceinline__ int atomic_add_release_sys(int* ptr, int value) {
    int old;
    asm volatile("atom.release.sys.global.add.s32 %0, [%1], %2;" : "=r"(old) : "l"(ptr), "r"(value) : "memory");
    return old;
}

// NOTES: release-add at GPU scope: an arrival counter other blocks of this GPU acquire; publishes this block's
// earlier writes (ordered by a preceding block barrier) before the arrival. Returns the old value.
__device__ __forceinline__ int atomic_add_release_gpu(int* ptr, int value) {
    int old;
    asm volatile("atom.release.gpu.global.add.s32 %0, [%1], %2;" : "=r"(old) : "l"(ptr), "r"(value) : "memory");
    return old;
}

// NOTES: nanoseconds from the GPU's global timer, comparable across SMs (clock64 is per SM and in cycles).
__device__ __forceinline__ unsigned long long globaltimer() {
    unsigned long long ns;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
    return ns;
}

// Bytes of dynamic shared memory this launch gave each block.
__device__ __forceinline__ unsigned int dynamic_smem_size() {
    unsigned int bytes;
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
    return bytes;
}

}  // namespace deep_ep::ptx
