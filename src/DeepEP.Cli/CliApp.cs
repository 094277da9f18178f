using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using DeepEP.Cli.Commands;
using DeepEP.Cli.Launch;

namespace DeepEP.Cli;

/// <summary>
/// The <c>deepep</c> command line: parses, runs one command, and reports every problem as one line (the whole
/// exception with <c>--verbose</c>); status 2 for a command line that cannot run, 1 for a failure while running.
/// </summary>
internal static class CliApp
{
    /// <summary><c>--verbose</c>, on every command: show whole exceptions instead of one line.</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Show the full exception (type, inner exceptions, stack trace) when a command fails.",
        Recursive = true,
    };

    /// <summary>Runs <paramref name="args"/>; <paramref name="output"/> and <paramref name="error"/> default to the console's.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        var root = new RootCommand("deepep: expert-parallel MoE dispatch and combine for .NET")
        {
            BenchCommand.Create(),
            InfoCommand.Create(),
            TuneCommand.Create(),
            LaunchCommand.Create(),
            PlotCommand.Create(),
            SoakCommand.Create(),
            Verbose,
        };
        var configuration = new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
        };
        if (args.Length == 0)
        {
            root.Parse(["--help"]).Invoke(configuration);
            return CliErrors.UsageStatus;
        }
        ParseResult parse = root.Parse(args);
        string command = CommandPath(parse);
        if (parse.Action is ParseErrorAction)
        {
            foreach (string message in parse.Errors.Select(e => e.Message).Distinct())
            {
                configuration.Error.WriteLine($"{command}: {CliErrors.OneLine(message)}");
            }
            return CliErrors.UsageStatus;
        }
        try
        {
            return parse.Invoke(configuration);
        }
        catch (Exception e)
        {
            return CliErrors.Report(e, command, parse.GetValue(Verbose), configuration.Error);
        }
    }

    /// <summary>The command that ran, as typed: "deepep bench".</summary>
    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is CommandResult command; result = command.Parent)
        {
            names.Insert(0, command.Command is RootCommand ? "deepep" : command.Command.Name);
        }
        return string.Join(' ', names);
    }
}
