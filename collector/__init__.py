"""The OTLP collector: decode, bound, normalise, price and store spans; answer after commit."""
