package org.tensorflow.lite;

import androidx.annotation.NonNull;
import java.util.Map;

public interface InterpreterApi extends AutoCloseable {
    void run(Object input, Object output);

    int getInputTensorCount();

    Tensor getInputTensor(int inputIndex);

    int getOutputTensorCount();

    Tensor getOutputTensor(int outputIndex);

    void runSignature(@NonNull Map<String, Object> inputs, @NonNull Map<String, Object> outputs, String signatureKey);

    Tensor getInputTensorFromSignature(String inputName, String signatureKey);

    String[] getSignatureKeys();

    String[] getSignatureInputs(String signatureKey);

    String[] getSignatureOutputs(String signatureKey);

    Tensor getOutputTensorFromSignature(String outputName, String signatureKey);

    Long getLastNativeInferenceDurationNanoseconds();

    @Override
    void close();

    class Options {
        public Options() {
            throw new RuntimeException("Stub!");
        }

        public Options setNumThreads(int numThreads) {
            throw new RuntimeException("Stub!");
        }

        public Options setUseXNNPACK(boolean useXNNPACK) {
            throw new RuntimeException("Stub!");
        }
    }
}
