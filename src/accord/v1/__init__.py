"""Accord's wire protocol, version 1: code generated from proto/accord/v1/*.proto.

Do not edit the ``*_pb2*`` modules; run ``python scripts/gen_proto.py`` after changing a
``.proto`` file (CI checks that the generated code is up to date).
"""
