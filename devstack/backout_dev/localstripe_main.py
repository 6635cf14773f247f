"""Start localstripe (dev only, its own process) without its whole-store pickle on every write.

localstripe's ``Store.__setitem__`` (and a middleware after every POST) pickles
the *entire* store to ``/tmp/localstripe.pickle``. Each write therefore costs
time in proportion to everything created so far: a 10,000-order soak spent
its first quarter hour creating PaymentIntents, and every localstripe on the
machine rewrites the same file. The local stack starts a fresh store each
time (``--from-scratch``) and never reads the file back, so the dump is
switched off here; everything else is localstripe's own ``server.start()``.

    python -m backout_dev.localstripe_main --port 8420 --from-scratch
"""

from __future__ import annotations


def main() -> None:
    """Run localstripe's server with its per-write disk dump disabled."""
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    server.start()


if __name__ == "__main__":
    main()
