"""The running service: the cycle's steps, the scheduler that runs them, health and metrics."""
