from libs.runtime.serve import serve

from .main import create_app
from .settings import ConvertkitSettings

settings = ConvertkitSettings.load()
serve(create_app(settings), settings)
