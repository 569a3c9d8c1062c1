"""`seqtool serve`: an HTTP API (FastAPI, run by uvicorn) and a web page over the workspace's models.

- :mod:`seqtool.serve.app`: the app factory, the endpoints and their error handling;
- :mod:`seqtool.serve.schemas`: the pydantic request/response models (the OpenAPI schema at ``/docs``);
- :mod:`seqtool.serve.registry`: which models are served, loading them (at start or lazily) and reloading;
- :mod:`seqtool.serve.batching`: one inference worker thread per model; concurrent translate requests
  are decoded together (micro-batching);
- :mod:`seqtool.serve.limits`: the request limits and the API's error type;
- ``static/``: the page (plain HTML, CSS and JavaScript, no build step, no CDN).
"""
