using System.Collections.Concurrent;

namespace DeepEP.Runtimes;

/// <summary>
/// A kernel template's name expressions (e.g. <c>deep_ep::intranode_dispatch&lt;896&gt;</c>), formatted once per
/// distinct template arguments: a launch looks its expression up by value instead of formatting a new string.
/// </summary>
/// <param name="format">The expression of one set of arguments.</param>
internal sealed class KernelTemplate<TArguments>(Func<TArguments, string> format)
    where TArguments : notnull
{
    private readonly ConcurrentDictionary<TArguments, string> _expressions = new();

    /// <summary>The expression of <paramref name="arguments"/>.</summary>
    public string Expression(TArguments arguments) => _expressions.GetOrAdd(arguments, format);
}
