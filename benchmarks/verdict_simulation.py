"""Operating characteristics of albench's verdict rule, by simulation (no training).

    python benchmarks/verdict_simulation.py [--sims 2000] [--max-trials 20]

The decisive family: 7 strategies (random, entropy, coreset, learn_loss, learn_loss_mse,
oracle_loss, lookahead_oracle), each compared with the baselines random and learn_loss: 11
comparisons, paired differences of std 1, trials in rounds 5, 10, 20 until every
comparison is decided (albench.verdicts.simulate). Prints the share of experiments with a
false better/worse verdict when all seven are identical (A/A) under the rule and under its
two ablations (every look at the full alpha; each comparison alone, without Holm), the
share with a false "equivalent" at a true difference equal to the margin, and the power to
call a strategy 1 std above random "better" within max_trials.
"""

from __future__ import annotations

import argparse
import time

from albench.verdicts import ALPHA, Design, simulate

STRATEGIES, BASELINES = 7, (0, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--max-trials", type=int, default=20)
    args = parser.parse_args()
    n, sims = args.max_trials, args.sims
    started = time.perf_counter()
    same = Design((0.0,) * STRATEGIES, BASELINES, n)
    rows = {
        "A/A, the rule (Holm + alpha spending)": {},
        "A/A, every look at the full alpha": {"spend": False},
        "A/A, each comparison alone (no Holm)": {"correct": False},
    }
    print(f"{sims} simulated experiments each, rounds up to {n} trials, alpha {ALPHA}")
    for name, ablation in rows.items():
        rate = simulate(same, sims, **ablation)["family_false"]
        verdict = "<=" if rate <= ALPHA else ">"
        print(f"  {name:40s} false better/worse in {rate:.3f} ({verdict} alpha)")
    boundary = simulate(Design((0.0, 1.0, 0.0), (0,), n, delta=1.0), sims)
    wrong = boundary["false_equivalent"]
    print(f"  {'true difference = margin (1 sd)':40s} false equivalent in {wrong:.3f}")
    shown = boundary["verdicts"][(2, 0)]["equivalent"]
    print(f"  {'true difference 0, margin 1 sd':40s} equivalent in {shown:.3f}")
    one_sd = simulate(Design((0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0), BASELINES, n), sims)
    power, used = one_sd["verdicts"][(2, 0)]["better"], one_sd["mean_trials"]
    print(f"  {'one strategy 1 sd above random':40s} better in {power:.3f} ({used:.1f} trials)")
    print(f"  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
