"""The building as data: the pure model, its CSV form, floor plans and which sensors read a desk.
No I/O."""
