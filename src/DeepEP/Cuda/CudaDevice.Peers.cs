using DeepEP.Interop;
using static DeepEP.Cuda.CudaCheck;

namespace DeepEP.Cuda;

public sealed partial class CudaDevice
{
    /// <summary>True when kernels on this device can address <paramref name="peer"/>'s memory (NVLink or PCIe P2P); true for the device itself.</summary>
    public bool CanAccessPeer(CudaDevice peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Ordinal == Ordinal)
        {
            return true;
        }
        Check(CudaDriver.cuDeviceCanAccessPeer(out int can, Ordinal, peer.Ordinal));
        return can != 0;
    }

    /// <summary>
    /// Lets this device address <paramref name="peer"/>'s memory (idempotent; a no-op for itself): enables peer
    /// access for plain allocations and grants this device read-write access to <paramref name="peer"/>'s default
    /// pool, which peer access alone does not cover.
    /// </summary>
    /// <exception cref="CudaException">The pair does not support peer access.</exception>
    public void EnablePeerAccess(CudaDevice peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Ordinal == Ordinal)
        {
            return;
        }
        using CudaContextScope scope = Activate();
        CuResult result = CudaDriver.cuCtxEnablePeerAccess(peer.Context, 0);
        if (result is not (CuResult.Success or CuResult.PeerAccessAlreadyEnabled))
        {
            throw CudaCheck.Exception(result, $"cuCtxEnablePeerAccess(context of cuda:{peer.Ordinal}) from cuda:{Ordinal}");
        }
        Check(CudaDriver.cuDeviceGetDefaultMemPool(out nint peerPool, peer.Ordinal));
        var access = new CuMemAccessDesc { LocationType = CuMemAccessDesc.LocationTypeDevice, LocationId = Ordinal, Flags = CuMemAccessDesc.AccessReadWrite };
        unsafe
        {
            Check(CudaDriver.cuMemPoolSetAccess(peerPool, &access, 1));
        }
    }

    /// <summary>The driver's relative performance rank of the link to <paramref name="peer"/> (0 is best), or null without P2P and for the device itself (no link).</summary>
    public int? PeerPerformanceRank(CudaDevice peer) =>
        PeerAttribute(peer, CudaDriver.P2PAttributeAccessSupported) != 0 ? PeerAttribute(peer, CudaDriver.P2PAttributePerformanceRank) : null;

    /// <summary>True when atomics on <paramref name="peer"/>'s memory are native over the link (NVLink), not emulated; false for the device itself (no link).</summary>
    public bool SupportsNativePeerAtomics(CudaDevice peer) => PeerAttribute(peer, CudaDriver.P2PAttributeNativeAtomicSupported) != 0;

    private int PeerAttribute(CudaDevice peer, int attribute)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (peer.Ordinal == Ordinal)
        {
            return 0;
        }
        Check(CudaDriver.cuDeviceGetP2PAttribute(out int value, attribute, Ordinal, peer.Ordinal));
        return value;
    }
}
