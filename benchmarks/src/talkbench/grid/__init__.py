"""The grid as a plan of idempotent tasks and the engines that run it (serial, Ray, SLURM through
submitit): :mod:`~talkbench.grid.plan` (the tasks and their dependencies),
:mod:`~talkbench.grid.context` (what the tasks share), :mod:`~talkbench.grid.cells` (training and
evaluation), :mod:`~talkbench.grid.finalize` (checks across rows, guidance effects),
:mod:`~talkbench.grid.tasks` (running one task under its lock; each task's state),
:mod:`~talkbench.grid.engines`, :mod:`~talkbench.grid.lock`, :mod:`~talkbench.grid.stop`.
See docs/cluster.md."""
