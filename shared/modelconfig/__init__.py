"""The model config service's shared layer: catalog, domain rules, storage and provider clients."""
