"""HTTP-aware toxics for the fault proxy: HTTP/1.x framing (h11), request matching, and
one small module per toxic type (``http_abort``, ``http_delay``, ``http_first_n``,
``http_reset``). Only connections of a proxy that has an HTTP toxic go through here."""
