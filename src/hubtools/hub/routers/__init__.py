"""The embedded Hub's routes, one APIRouter per resource; `hubtools.hub.app` includes them in order."""
