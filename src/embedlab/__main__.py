"""`python -m embedlab ...` is the `embedlab` command (`torchrun ... -m embedlab train CONFIG`)."""

from embedlab.cli import main

main()
