using DeepEP.Cli;

return CliApp.Run(args);
