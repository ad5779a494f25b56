from libs.runtime.serve import serve

from .main import create_app
from .settings import IngestSettings

settings = IngestSettings.load()
serve(create_app(settings), settings)
