using System.CommandLine;
using DeepEP.Cli.Commands;

var root = new RootCommand("deepep: expert-parallel MoE dispatch and combine for .NET")
{
    BenchCommand.Create(),
    InfoCommand.Create(),
};
return root.Parse(args).Invoke();
