"""`drift snapshot TARGET -o DIR`: the Dockerfile and build context that rebuild a target.

    plan.py           from an inspection to a plan (what to install, copy, delete, set; what to
                      leave out), and the files written from it
    image_config.py   the config instructions (ENV, CMD, USER ...) for what differs from the base
    build_context.py  where each copied path goes in the build context, written safely

`--verify` builds the result and compares it: drift/rebuild.py, shared with `diff --build`.
"""
