from libs.runtime.serve import serve

from .main import create_app
from .settings import KitSettings

settings = KitSettings.load()
serve(create_app(settings), settings)
