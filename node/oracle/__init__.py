"""The oracle service: price sources (sources.py) sampled, merged and signed as
clearing's `PriceObservation` by this validator (service.py), then handed to gossip."""
