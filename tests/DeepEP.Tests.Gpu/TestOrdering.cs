// GPU tests own the devices: kernels of one test spin-wait on their peers, and another test's synchronising calls
// (cuMemFree, device synchronisation) on the same GPUs can stall them, so the classes run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
