using System.CommandLine;
using DeepEP.Cli.Commands;
using DeepEP.Cli.Launch;

var root = new RootCommand("deepep: expert-parallel MoE dispatch and combine for .NET")
{
    BenchCommand.Create(),
    InfoCommand.Create(),
    TuneCommand.Create(),
    LaunchCommand.Create(),
    PlotCommand.Create(),
    SoakCommand.Create(),
};
return root.Parse(args).Invoke();
