"""Entry point of the frozen (PyInstaller) cnnstudio: the ``cnnstudio`` command.

A frozen program has no Python interpreter to re-run, so ``sys.executable`` is the bundle's own
``cnnstudio``. Two things re-run ``sys.executable`` and are handled here before the command line:

* multiprocessing children started with "spawn" (``freeze_support``);
* ``cnnstudio train --nproc N`` runs ``sys.executable -m torch.distributed.run ... -m cnnstudio``,
  and torchrun starts each worker as ``sys.executable -u -m cnnstudio ...``: a leading
  ``[-u] -m MODULE`` runs that module, as ``python -m`` would.
"""

import multiprocessing
import runpy
import sys


def _run_module_arguments() -> bool:
    args = sys.argv[1:]
    while args and args[0] == "-u":  # unbuffered output: the bundle's streams are already fine
        args = args[1:]
    if len(args) >= 2 and args[0] == "-m":
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return True
    return False


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if not _run_module_arguments():
        from cnnstudio.cli.main import main

        sys.exit(main())
