"""The hospital's clinical systems as wardlink sees them (lab and pharmacy), specimen barcodes and journeys."""
