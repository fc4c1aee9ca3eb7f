"""``python -m allinone_bench.cli`` (what ``torchrun -m allinone_bench.cli run ...`` launches)."""

from allinone_bench.cli import main

if __name__ == "__main__":
    main()
