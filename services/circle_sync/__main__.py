from libs.runtime.serve import serve

from .main import create_app
from .settings import CircleSettings

settings = CircleSettings.load()
serve(create_app(settings), settings)
