using System.Net;
using System.Net.Sockets;
using DeepEP.Distributed;
using DeepEP.Tests.Support;

namespace DeepEP.Tests.Distributed;

/// <summary>TCP process groups whose ranks are threads of the test process, on 127.0.0.1.</summary>
internal static class LoopbackRanks
{
    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public static DistributedEnvironment Environment(int rank, int size, int port) =>
        new(rank, size, rank, size, "127.0.0.1", port);

    /// <summary>Each rank joins the group, runs <paramref name="body"/> and leaves; the ranks run on <see cref="RankThreads"/>.</summary>
    public static RankOutcome<T>[] Run<T>(int size, Func<ProcessGroup, T> body, TimeSpan? timeout = null)
    {
        int port = FreePort();
        return RankThreads.Run(size, rank =>
        {
            using var group = ProcessGroup.Connect(Environment(rank, size, port), timeout ?? TimeSpan.FromSeconds(20));
            return body(group);
        });
    }

    public static T[] RunAll<T>(int size, Func<ProcessGroup, T> body) => RankThreads.Values(Run(size, body));
}
