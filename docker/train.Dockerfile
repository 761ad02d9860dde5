# voicesmith's SageMaker training image: AWS's prebuilt PyTorch training container (torch, CUDA, NCCL,
# the SageMaker training toolkit that runs SAGEMAKER_PROGRAM, torchrun for torch_distributed) plus
# voicesmith's [train] extra and its entry point. Build from the repository root:
#   docker build -f docker/train.Dockerfile -t voicesmith-train:0.1.0 .
# docs/deploy.md ("Container images") says how to log in to AWS's registry and push it to ECR.
# The versions below must match pyproject.toml (tests/test_containers.py checks them).
ARG AWS_REGION=us-east-1
ARG TORCH_VERSION=2.13.0
ARG PYTHON_TAG=py311
ARG CUDA_TAG=cu128
FROM 763104351884.dkr.ecr.${AWS_REGION}.amazonaws.com/pytorch-training:${TORCH_VERSION}-gpu-${PYTHON_TAG}-${CUDA_TAG}-ubuntu22.04-sagemaker

ARG TORCH_VERSION=2.13.0
WORKDIR /opt/voicesmith
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# The image's own torch stays: the constraint makes pip keep it instead of pulling another build.
RUN echo "torch==${TORCH_VERSION}" > /tmp/constraints.txt \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt ".[train]" \
    && rm /tmp/constraints.txt \
    && python -c "import torch, lightning, voicesmith.training.train; print('torch', torch.__version__)"

COPY sagemaker_entry.py /opt/ml/code/sagemaker_entry.py
# The training toolkit runs SAGEMAKER_PROGRAM from SAGEMAKER_SUBMIT_DIRECTORY (torchrun on each instance
# when the job's hyper-parameters enable torch_distributed).
ENV SAGEMAKER_PROGRAM=sagemaker_entry.py \
    SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/code \
    PYTHONUNBUFFERED=1
WORKDIR /opt/ml/code
