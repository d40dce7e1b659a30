"""lmpipe's own Transformer. Importing this package registers it with transformers' Auto classes,
so that `AutoModelFor*.from_pretrained` loads a checkpoint whose config says model_type "lmpipe"."""
from transformers import (AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM,
                          AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification)

from pipeline.models.transformer import (LmpipeConfig, LmpipeForCausalLM, LmpipeForMaskedLM,
                                         LmpipeForQuestionAnswering, LmpipeForSequenceClassification,
                                         LmpipeForTokenClassification, LmpipeModel, LmpipePreTrainedModel)

AutoConfig.register(LmpipeConfig.model_type, LmpipeConfig)
for auto, model in ((AutoModel, LmpipeModel), (AutoModelForMaskedLM, LmpipeForMaskedLM),
                    (AutoModelForCausalLM, LmpipeForCausalLM),
                    (AutoModelForSequenceClassification, LmpipeForSequenceClassification),
                    (AutoModelForTokenClassification, LmpipeForTokenClassification),
                    (AutoModelForQuestionAnswering, LmpipeForQuestionAnswering)):
    auto.register(LmpipeConfig, model)

__all__ = ["LmpipeConfig", "LmpipePreTrainedModel", "LmpipeModel", "LmpipeForMaskedLM", "LmpipeForCausalLM",
           "LmpipeForSequenceClassification", "LmpipeForTokenClassification", "LmpipeForQuestionAnswering"]
