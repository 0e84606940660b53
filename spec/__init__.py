"""Pure resolution: validated config (and, where needed, the last deployment's outputs) -> plain values.

Layering: config -> spec -> render/cost -> components -> cli; nothing here imports a layer above it.
"""
