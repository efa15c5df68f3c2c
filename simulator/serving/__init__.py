"""Serving on simulated hardware: request streams, batching policies, paged KV, disaggregation (docs/serving.md).

`serve()` and `sweep()` load on first use, so that the CLI's parser does not import the serving stack."""

__all__ = ["Serving", "serve", "sweep"]


def __getattr__(name: str):
    if name in __all__:
        from simulator.serving import api

        return getattr(api, name)
    raise AttributeError(name)
