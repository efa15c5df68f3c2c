"""The readable summary `simulate run` prints without --json."""

from __future__ import annotations

from simulator.quantity import fmt


def summary_text(s: dict) -> str:
    lines = [
        f"{s['workload']} ({s['model']}, {s['phase']}) on {s['system']}  [level: {s['level']}]",
        f"  latency        {fmt(s['latency_s'], 'time')}",
        f"  throughput     {s['throughput_tokens_per_s']:.4g} tokens/s  ({s['tokens']['generated']} tokens, "
        f"batch {s['tokens']['batch']})",
        f"  energy         {fmt(s['energy_j']['total'], 'energy')}  ({fmt(s['energy_per_token_j'], 'energy')}/token)",
        f"  model          {s['params'] / 1e9:.3g} B params, {s['flops'] / 1e12:.4g} TFLOP this step",
        f"  per layer      {fmt(s['stages']['layer_s'], 'time')} x {s['layers_simulated']} layers",
        "  utilisation    " + ", ".join(f"{u} {v:.0%}" for u, v in s["utilisation"].items()),
        "  bandwidth      " + ", ".join(f"{m} {b['gbps']:.4g} GB/s ({b['utilisation']:.0%} of peak)"
                                     for m, b in s["bandwidth"].items()),
        "  energy by part " + ", ".join(f"{c} {fmt(e, 'energy')}" for c, e in s["energy_j"]["by_component"].items()),
        "  time by class  " + ", ".join(f"{c} {fmt(t, 'time')}" for c, t in s["stages"]["busy_by_op_class_s"].items()),
    ]
    devices = s["energy_j"].get("by_device", {})
    if len(devices) > 1:          # a system of several devices: the plan and the energy by group
        plan = " x ".join(f"{k} {v}" for k, v in s["parallel"].items() if v > 1) or "one device"
        lines.insert(5, f"  system         {len(devices)} devices, the plan ({plan}) on {s['devices_used']}; energy by "
                        "group " + ", ".join(f"{g} {fmt(e, 'energy')}" for g, e in s["energy_j"]["by_group"].items()))
    return "\n".join(lines)
