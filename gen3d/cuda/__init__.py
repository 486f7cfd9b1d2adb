"""Optional CUDA kernels. Each has a torch reference implementation that runs on the CPU."""
