"""Pure renderers: validated config in, host files (path -> content) out."""
