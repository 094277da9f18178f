using System.CommandLine;
using DeepEP.Cli.Commands;

// The executable is DeepEP.Cli (an assembly named "deepep" would collide with DeepEP.dll: names compare case-insensitively).
var root = new RootCommand("deepep: expert-parallel MoE dispatch and combine for .NET")
{
    BenchCommand.Create(),
    InfoCommand.Create(),
};
return root.Parse(args).Invoke();
