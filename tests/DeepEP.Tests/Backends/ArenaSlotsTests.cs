using DeepEP.Backends.Kernels;
using DeepEP.Tensors;

namespace DeepEP.Tests.Backends;

/// <summary>
/// <see cref="ArenaSlots"/>, the receive arena of one process per GPU: slots are leased round robin, a slot stays held
/// while its lease or any tensor viewing it lives, and a full arena reports who holds each slot. Addresses only; no
/// memory behind them is touched.
/// </summary>
public sealed class ArenaSlotsTests
{
    private static readonly nint Base = unchecked((nint)0x7f0000000000);

    [Fact]
    public void SlotsSplitTheArenaInThirdsOf128ByteMultiples()
    {
        var slots = new ArenaSlots(Base, (3 * 1100) + 77);
        Assert.Equal(1024, slots.SlotBytes);
        Assert.True(slots.Contains(Base, 3 * 1024));
        Assert.False(slots.Contains(Base, (3 * 1024) + 1));
        Assert.False(slots.Contains(Base - 16, 16));
    }

    [Fact]
    public void ASlotIsHeldUntilItsLeaseAndEveryViewAreDisposed()
    {
        var slots = new ArenaSlots(Base, 3 * 4096);
        ArenaSlot first = slots.TryLease("first")!;
        Assert.Equal(Base, first.Address);
        DeviceTensor rows = DeviceTensor.Leased(first, first.Address, DType.BFloat16, [4, 64], device: 0);
        DeviceTensor weights = DeviceTensor.Leased(first, first.Address + 512, DType.Float32, [4, 2], device: 0);
        first.Dispose();
        using (ArenaSlot second = slots.TryLease("second")!)
        using (ArenaSlot third = slots.TryLease("third")!)
        {
            Assert.Equal(Base + 4096, second.Address);
            Assert.Equal(Base + 8192, third.Address);
            Assert.Null(slots.TryLease("fourth"));
            Assert.Equal("slot 0: first; slot 1: second; slot 2: third", slots.DescribeHolders());
        }
        rows.Dispose();
        Assert.Contains("slot 0: first", slots.DescribeHolders());
        Assert.False(weights.IsDisposed);
        weights.Dispose();
        Assert.Equal("slot 0: free; slot 1: free; slot 2: free", slots.DescribeHolders());
        Assert.True(rows.IsDisposed);
    }

    [Fact]
    public void LeasesGoRoundRobinSoAJustFreedSlotIsReusedLast()
    {
        var slots = new ArenaSlots(Base, 3 * 256);
        using (slots.TryLease("a"))
        {
        }
        using ArenaSlot next = slots.TryLease("b")!;
        Assert.Equal(Base + 256, next.Address);
        using ArenaSlot after = slots.TryLease("c")!;
        Assert.Equal(Base + 512, after.Address);
        using ArenaSlot wrapped = slots.TryLease("d")!;
        Assert.Equal(Base, wrapped.Address);
    }
}
