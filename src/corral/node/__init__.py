"""The node agent: what runs on every node to mount storage, run custom actions and start services."""
